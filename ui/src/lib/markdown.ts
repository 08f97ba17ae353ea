// Markdown from the org's course, rendered with any raw HTML escaped: the content is signed,
// but the reader still never injects markup it did not generate.
import { Marked } from "marked";

const escape = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const marked = new Marked({
  gfm: true,
  async: false,
  renderer: {
    html({ text }) {
      return escape(text);
    },
  },
});

export function renderMarkdown(md: string): string {
  return marked.parse(md, { async: false }) as string;
}

/** Splits a module into its `## ` sections (the first holds what precedes the first one). */
export function sections(md: string): string[] {
  const parts = md.split(/\n(?=## )/);
  return parts.filter((p) => p.trim().length > 0);
}
