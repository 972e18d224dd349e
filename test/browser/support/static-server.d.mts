export interface StaticServer {
  url: string;
  /** Paths served, in order (to check that nothing came from elsewhere). */
  served: string[];
  close(): Promise<void>;
}
export declare function serveStatic(root: string, extra?: Record<string, string>, options?: { isolated?: boolean }): Promise<StaticServer>;
