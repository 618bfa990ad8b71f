// The few Node.js APIs the example uses, so it type-checks without @types/node.
declare module "node:fs/promises" {
  export function writeFile(path: string, data: Uint8Array | string): Promise<void>;
}
declare const process: { argv: string[]; env: Record<string, string | undefined>; exit(code: number): never };
