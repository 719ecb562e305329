/** Absolute path of the console's dist folder (index.html and assets/). */
export declare function consoleAssetsDir(): string;
