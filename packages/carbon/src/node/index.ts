// Node-only additions (files, sensors); the platform-neutral API is '@carboncp/carbon'.
export {};
