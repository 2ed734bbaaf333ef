// What Django tells a page: read from the <script type="application/json" id="page-config">
// that the template writes with json_script (document id, title, role, username, CSRF token).
export function pageConfig () {
  const element = document.getElementById('page-config')
  return element ? JSON.parse(element.textContent) : {}
}
