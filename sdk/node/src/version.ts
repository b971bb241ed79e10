/** Sent in User-Agent, so the API's logs can tell which SDK called. Kept equal to package.json's version. */
export const sdkVersion = '0.1.0';
