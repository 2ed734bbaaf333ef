// Entry of the documents page (/).
import { mountDocumentsList } from '../documents-list.js'

mountDocumentsList({
  list: document.querySelector('[data-testid=documents]'),
  empty: document.getElementById('no-documents'),
  createForm: document.getElementById('create-document'),
  error: document.getElementById('page-error'),
})
