export declare const CHROMIUM_PATHS: string[];
export declare const SKIP_LINE: string;
export declare function findChromium(): string | undefined;
