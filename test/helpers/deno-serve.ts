// Run under Deno 2 by test/runtime-deno-serve.test.ts: the shared OpenAI handler (src/serve/handler.ts) on
// Deno.serve, the model loaded from bytes Deno read. Prints "listening PORT" once it serves.
//
//   deno run --sloppy-imports --node-modules-dir=manual --allow-read --allow-net test/helpers/deno-serve.ts MODEL.gguf PORT KEY

import { createHandler, loadModel } from "../../src/index.ts";

declare const Deno: {
  args: string[];
  readFile(path: string): Promise<Uint8Array>;
  serve(options: { port: number; hostname: string; onListen(): void }, handler: (request: Request) => Promise<Response>): unknown;
};

const [modelPath, port, apiKey] = Deno.args;
const model = await loadModel(await Deno.readFile(modelPath!), { maxContext: 1024 });
const handler = createHandler({ model, modelName: "SmolLM2-135M-Instruct", apiKey, skipLabel: "off", maxQueue: 2, log: (line) => console.error(line) });
Deno.serve({ port: Number(port), hostname: "127.0.0.1", onListen: () => console.log(`listening ${port}`) }, (request) => handler.fetch(request));
