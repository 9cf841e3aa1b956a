/* Behaviour the pages need beyond htmx, kept out of the HTML: the Content-Security-Policy allows no
   inline script (settings.CONTENT_SECURITY_POLICY). Loaded, deferred, by custody/base.html. */
"use strict";

/* <button data-append-selection="ID">: append the selected text's START-END character span to the input
   ID, comma-separated (the redaction form of a case item). */
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-append-selection]");
  if (!button) return;
  const selection = window.getSelection();
  if (!selection.rangeCount) return;
  const start = Math.min(selection.anchorOffset, selection.focusOffset);
  const end = Math.max(selection.anchorOffset, selection.focusOffset);
  if (end <= start) return;
  const field = document.getElementById(button.dataset.appendSelection);
  field.value = (field.value ? field.value + "," : "") + start + "-" + end;
});
