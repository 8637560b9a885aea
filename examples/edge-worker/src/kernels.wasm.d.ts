// A .wasm module import: the host (workerd, wrangler) compiles it at deploy time and hands over the module.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
