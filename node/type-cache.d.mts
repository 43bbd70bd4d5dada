/** Types of `type-cache.mjs` (JavaScript: it runs before any TypeScript can be loaded). */
export declare const PROJECT_ROOT: string;
export declare const CACHE_DIR: string;
export declare function cachedPath(source: Uint8Array): string;
export declare function fillTypeCache(): Promise<void>;
