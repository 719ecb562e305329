export {
  COMPOSE_FILE_NAMES,
  composeArtifactOf,
  composeFromEntries,
  composePathsOutside,
  packCompose,
  type PackedArtifact,
  type PackedBlob,
  type PackedCompose,
} from './compose.js';
export { readFolder, type ReadFolderOptions } from './folder.js';
export { helmArtifact, packHelmChart, parseChartYaml, type ChartMeta, type PackedChart } from './helm.js';
export { gzipDeterministic, tarBytes, tarGz, type TarEntry } from './tar.js';
export {
  imageFromSave,
  imageNameAndTag,
  OCI_IMAGE_CONFIG,
  OCI_LAYER_GZIP,
  packImage,
  type PackedImage,
} from './image.js';
