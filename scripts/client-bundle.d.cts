// Types of scripts/client-bundle.cjs for the TypeScript that imports it (the sample's print server).
import type { BuildOptions } from 'esbuild';

/** esbuild options of the `tokenward/client` browser bundle, writing to `outfile`. */
export declare function clientBuildOptions(outfile: string): BuildOptions;
/** The browser bundle built into memory: its JavaScript text. */
export declare function bundleClient(): Promise<string>;
