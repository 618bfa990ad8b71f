/** The SDK's version (the API document's `info.version`). */
export declare const VERSION = "0.1.0";
