// The dashboard's only script: ask before destructive posts, and reload pages that show unfinished work.
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
const seconds = Number(document.body.dataset.refresh || 0);
if (seconds > 0) {
  window.setTimeout(() => window.location.reload(), seconds * 1000);
}
