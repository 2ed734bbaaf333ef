// The document's title in the editor page: editors rename it in place (saved on Enter or when
// the field loses focus); viewers see it read-only.
import { documentsApi } from './api.js'

export function mountTitle (input, { documentId, title, canRename }) {
  input.value = title
  input.readOnly = !canRename
  if (!canRename) return
  let saved = title
  const save = async () => {
    const wanted = input.value.trim() || 'Untitled'
    input.value = wanted
    if (wanted === saved) return
    try {
      const document_ = await documentsApi.rename(documentId, wanted)
      saved = document_.title
      document.title = `${saved} · Collab`
      input.setCustomValidity('')
      input.dataset.saved = 'true'
    } catch (exc) {
      input.setCustomValidity(exc.message)
      input.reportValidity()
    }
  }
  input.addEventListener('input', () => { delete input.dataset.saved })
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault()
      input.blur()
    } else if (event.key === 'Escape') {
      input.value = saved
      input.blur()
    }
  })
  input.addEventListener('change', save)
}
