export declare const BROWSER_CONDITIONS: string[];
export declare function buildPage(root: string, outDir: string, resolve?: { alias?: Record<string, string> }): Promise<void>;
