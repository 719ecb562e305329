import { IsoGitStore } from './iso-git-store.js';
import { NativeGitStore } from './native-git-store.js';
import { localContract, type Backend } from './testing/store-contract.js';

const iso: Backend = { name: 'IsoGitStore', make: (d) => new IsoGitStore(d) };
const native: Backend = { name: 'NativeGitStore', make: (d) => new NativeGitStore(d) };

localContract(iso, native);
localContract(native, iso);
