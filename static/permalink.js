// Permalinks carry the program in the URL fragment (#code=<base64url UTF-8>&output=<name>),
// so it never reaches a server log. A fragment that is not base64 of UTF-8 is no program.
function toBase64Url(text) {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
}

export function permalink(code, output) {
  const params = new URLSearchParams({ code: toBase64Url(code) });
  if (output) params.set("output", output);
  const url = new URL(window.location.href);
  url.hash = params.toString();
  return url.href;
}

// The program in the current URL's fragment, or null when there is none (or it is damaged).
export function readPermalink() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  if (!params.has("code")) return null;
  try {
    return { code: fromBase64Url(params.get("code")), output: params.get("output") ?? "" };
  } catch {
    return null;
  }
}
