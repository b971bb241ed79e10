// Replaced by the build (build.mjs's esbuild `define`) with the package's version.
declare const __HERALD_SDK_VERSION__: string;

/** The version this SDK reports as its installation's sdk_version. */
export const sdkVersion: string = __HERALD_SDK_VERSION__;
