import { IsoGitStore } from './iso-git-store.js';
import { NativeGitStore } from './native-git-store.js';
import { localContract, type Backend } from './testing/store-contract.js';

const iso: Backend = { name: 'IsoGitStore', make: (d) => new IsoGitStore(d) };
// Every write through git processes (the in-process path for small change sets switched off) ...
const plumbing: Backend = {
  name: 'NativeGitStore[plumbing]',
  make: (d) => new NativeGitStore(d, { smallCommitThreshold: 0 }),
};
// ... and the default mix (small change sets in-process, large ones through git).
const native: Backend = { name: 'NativeGitStore', make: (d) => new NativeGitStore(d) };

localContract(iso, plumbing);
localContract(plumbing, iso);
localContract(native, plumbing);
