// Chat template tests: every template x conversation of test/fixtures/chat-cases.json against transformers'
// apply_chat_template (test/oracle/hf_tokenizer.py), plus message validation and error mapping.
import { readFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, FormatError, InputError, UnsupportedError } from "../src/errors.js";
import {
  CHATML_TEMPLATE, chatTemplateFromGguf, chatTemplateFromHf, createChatTemplate, type ChatMessage, type ChatTemplate,
} from "../src/text/chat-template.js";
import { CHAT_CASES_PATH, loadTokenizerOracle } from "./oracle/tokenizer-oracle.js";

interface ChatCases {
  templates: Record<string, string | null>;
  conversations: Record<string, ChatMessage[]>;
}
const cases = JSON.parse(readFileSync(CHAT_CASES_PATH, "utf8")) as ChatCases;

function throwsTyped(fn: () => unknown, type: Function, field: string | undefined, text?: string): void {
  try {
    fn();
  } catch (error) {
    assert.instance(error, type);
    if (field !== undefined) assert.is((error as InputError).field, field);
    if (text !== undefined) assert.ok((error as Error).message.includes(text), `"${(error as Error).message}" mentions "${text}"`);
    return;
  }
  assert.unreachable(`expected ${type.name}`);
}

const unit = suite("chat template (no oracle)");

unit("ChatML: the documented format, with and without the generation prompt", () => {
  const chat = createChatTemplate(CHATML_TEMPLATE);
  const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }];
  assert.is(chat.render(messages), "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  assert.is(
    chat.render(messages, { addGenerationPrompt: true }),
    "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
  );
});

unit("special token texts and tools=none reach the template", () => {
  const chat = createChatTemplate(
    "{{ bos_token }}|{{ eos_token }}|{% if pad_token is defined %}pad{% else %}no pad{% endif %}|{% if tools is none %}no tools{% endif %}|{{ messages[0].content }}",
    { bos: "<s>", eos: "</s>" },
  );
  assert.is(chat.render([{ role: "user", content: "x" }]), "<s>|</s>|no pad|no tools|x");
});

unit("bad messages: InputError naming the field", () => {
  const chat = createChatTemplate(CHATML_TEMPLATE);
  throwsTyped(() => chat.render([]), InputError, "messages");
  throwsTyped(() => chat.render("hello" as unknown as ChatMessage[]), InputError, "messages");
  throwsTyped(() => chat.render([null as unknown as ChatMessage]), InputError, "messages[0]");
  throwsTyped(() => chat.render([{ role: "user", content: "ok" }, { role: "user" } as ChatMessage]), InputError, "messages[1].content");
  throwsTyped(() => chat.render([{ role: 3, content: "x" } as unknown as ChatMessage]), InputError, "messages[0].role");
  throwsTyped(() => chat.render([{ role: "", content: "x" }]), InputError, "messages[0].role");
  throwsTyped(() => chat.render([{ role: "user", content: ["multi", "modal"] } as unknown as ChatMessage]), InputError, "messages[0].content");
  throwsTyped(() => chat.render([{ role: "user", content: "lone \ud83d" }]), InputError, "messages[0]");
});

unit("a 10 MB message is an InputError on the messages, not an UnsupportedError on the template", () => {
  const template = createChatTemplate(CHATML_TEMPLATE, {}, "test");
  try {
    template.render([{ role: "user", content: "a".repeat(10 << 20) }]);
    assert.unreachable("rendered 10 MB");
  } catch (error) {
    assert.instance(error, InputError, String(error));
    assert.is((error as InputError).field, "messages");
  }
});

unit("raise_exception becomes an InputError carrying the template's message", () => {
  const chat = createChatTemplate("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok");
  assert.is(chat.render([{ role: "user", content: "x" }]), "ok");
  throwsTyped(() => chat.render([{ role: "system", content: "x" }]), InputError, "messages", "System role not supported");
});

unit("broken or unsupported templates: FormatError / UnsupportedError", () => {
  throwsTyped(() => createChatTemplate("{% for m in messages %}no end"), FormatError, "chat_template");
  const unknownFilter = createChatTemplate("{{ messages[0].content | no_such_filter }}");
  throwsTyped(() => unknownFilter.render([{ role: "user", content: "x" }]), UnsupportedError, "chat_template");
});

unit("tokenizer_config.json: string, named list, separate .jinja, fallback", () => {
  const messages = [{ role: "user", content: "Hi" }];
  const plain = chatTemplateFromHf({ chat_template: "[{{ messages[0].content }}]{{ eos_token }}", eos_token: { content: "</s>" } });
  assert.is(plain.render(messages), "[Hi]</s>");
  assert.not.ok(plain.isFallback);
  const named = chatTemplateFromHf(JSON.stringify({
    chat_template: [{ name: "tool_use", template: "tools" }, { name: "default", template: "default {{ messages|length }}" }],
  }));
  assert.is(named.render(messages), "default 1");
  throwsTyped(() => chatTemplateFromHf({ chat_template: [{ name: "tool_use", template: "x" }] }), ConfigError, "chat_template");
  assert.is(chatTemplateFromHf({ chat_template: "ignored" }, "from the .jinja file").render(messages), "from the .jinja file");
  const fallback = chatTemplateFromHf({});
  assert.ok(fallback.isFallback);
  assert.is(fallback.template, CHATML_TEMPLATE);
  throwsTyped(() => chatTemplateFromHf("{oops"), FormatError, undefined);
});

unit.run();

const oracle = loadTokenizerOracle();

if (oracle !== undefined) {
  const test = suite("chat template vs transformers");
  const smollm = oracle.results["smollm"]!;
  const rendered = smollm.chat!;
  const specialTokens = { bos: smollm.bos_token ?? undefined, eos: smollm.eos_token ?? undefined };
  const hfConfig = oracle.hfFiles["smollm"]!.get("tokenizer_config.json")!;

  function assertRendersLike(chat: ChatTemplate, templateName: string): void {
    for (const [conversationName, messages] of Object.entries(cases.conversations)) {
      for (const addGenerationPrompt of [true, false]) {
        const key = `${templateName}/${conversationName}/${addGenerationPrompt ? "gen" : "nogen"}`;
        const expected = rendered[key]!;
        if (expected.text !== undefined) {
          assert.is(chat.render(messages, { addGenerationPrompt }), expected.text, key);
        } else {
          throwsTyped(() => chat.render(messages, { addGenerationPrompt }), InputError, "messages", expected.error!);
        }
      }
    }
  }

  for (const [name, template] of Object.entries(cases.templates)) {
    test(`${name}: every conversation renders like apply_chat_template (or raises the same exception)`, () => {
      const chat = template === null ? chatTemplateFromGguf(oracle.ggufs["smollm"]!) : createChatTemplate(template, specialTokens);
      assertRendersLike(chat, name);
    });
  }

  test("the template copied into tokenizer_config.json by hfTokenizerFilesFromGguf renders like the GGUF's", () => {
    const chat = chatTemplateFromHf(hfConfig);
    assert.not.ok(chat.isFallback);
    assertRendersLike(chat, "gguf");
  });

  test("a GGUF without a template falls back to ChatML, rendering like transformers' ChatML", () => {
    assert.is(cases.templates["chatml"], CHATML_TEMPLATE);
    const chat = chatTemplateFromGguf(oracle.ggufs["spm"]!);
    assert.ok(chat.isFallback);
    assertRendersLike(chat, "chatml");
  });

  test.run();
}
