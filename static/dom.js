// Building the page's elements: text goes in as textContent only (answers hold user names and
// values), looks come from classes only (the CSP forbids inline styles).
export function element(tag, text, className) {
  const created = document.createElement(tag);
  if (text !== undefined && text !== null) created.textContent = text;
  if (className) created.className = className;
  return created;
}
