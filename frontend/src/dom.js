// A tiny element builder, so modules build their DOM without innerHTML (no escaping mistakes).
export function h (tag, attributes = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on')) element.addEventListener(name.slice(2).toLowerCase(), value)
    else if (name === 'dataset') Object.assign(element.dataset, value)
    else if (name === 'style') Object.assign(element.style, value)
    else element.setAttribute(name, value === true ? '' : value)
  }
  // null, undefined and false are "nothing here", so `condition && h(...)` works as a child.
  element.append(...children.flat().filter((child) => child != null && child !== false))
  return element
}
