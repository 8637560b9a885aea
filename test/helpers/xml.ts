// A small XML well-formedness checker (no dependencies) for the SVG we write: one root element, every tag closed
// in order, attributes quoted and unique, no raw "<" or stray "&" in text or attribute values. Returns the elements
// (name and attributes, in document order) so tests can look for what should be drawn.

export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** The element's direct text content (entities left as written). */
  text: string;
}

const NAME = "[A-Za-z_][\\w.:-]*";
const ENTITY = /&(?:lt|gt|amp|quot|apos|#\d+|#x[0-9A-Fa-f]+);/g;

function checkText(text: string, where: string): void {
  if (text.includes("<")) throw new Error(`raw "<" in ${where}`);
  if (text.replace(ENTITY, "").includes("&")) throw new Error(`unescaped "&" in ${where}`);
}

export function parseXml(source: string): XmlElement[] {
  let s = source.replace(/^\uFEFF/, "");
  const decl = /^<\?xml[^?]*\?>/.exec(s);
  if (decl !== null) s = s.slice(decl[0].length);
  const elements: XmlElement[] = [];
  const stack: XmlElement[] = [];
  let roots = 0;
  let i = 0;
  while (i < s.length) {
    const lt = s.indexOf("<", i);
    const text = lt === -1 ? s.slice(i) : s.slice(i, lt);
    checkText(text, "text");
    if (stack.length === 0 && text.trim() !== "") throw new Error(`text outside the root element: ${JSON.stringify(text.slice(0, 40))}`);
    if (stack.length > 0) stack[stack.length - 1]!.text += text;
    if (lt === -1) break;
    if (s.startsWith("<!--", lt)) {
      const end = s.indexOf("-->", lt + 4);
      if (end === -1) throw new Error("unclosed comment");
      i = end + 3;
      continue;
    }
    const gt = s.indexOf(">", lt);
    if (gt === -1) throw new Error("unclosed tag");
    const tag = s.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open === undefined || open.name !== name) throw new Error(`</${name}> closes <${open?.name ?? "nothing"}>`);
      continue;
    }
    const selfClosing = tag.endsWith("/");
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const nameMatch = new RegExp(`^(${NAME})`).exec(body);
    if (nameMatch === null) throw new Error(`bad tag <${tag.slice(0, 30)}>`);
    const attributes: Record<string, string> = {};
    let rest = body.slice(nameMatch[1]!.length);
    const attr = new RegExp(`^\\s+(${NAME})\\s*=\\s*("([^"]*)"|'([^']*)')`);
    while (rest.trim() !== "") {
      const m = attr.exec(rest);
      if (m === null) throw new Error(`bad attributes in <${nameMatch[1]}>: ${JSON.stringify(rest.slice(0, 40))}`);
      if (m[1]! in attributes) throw new Error(`duplicate attribute ${m[1]} in <${nameMatch[1]}>`);
      const value = m[3] ?? m[4] ?? "";
      checkText(value, `attribute ${m[1]}`);
      attributes[m[1]!] = value;
      rest = rest.slice(m[0].length);
    }
    const element: XmlElement = { name: nameMatch[1]!, attributes, text: "" };
    if (stack.length === 0) roots++;
    if (roots > 1) throw new Error("more than one root element");
    elements.push(element);
    if (!selfClosing) stack.push(element);
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (roots !== 1) throw new Error("no root element");
  return elements;
}
