// Live preview in the article editor: sends the Markdown to the server's renderer (the same one readers
// get, sanitised there) and shows the result under the text box. Without JavaScript the editor still works.
(function () {
  "use strict";
  const form = document.querySelector("form[data-preview-url]");
  if (!form) return;
  const url = form.dataset.previewUrl;
  const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function refresh(textarea, target) {
    const body = new URLSearchParams({ body: textarea.value });
    fetch(url, { method: "POST", body, headers: { "X-CSRFToken": token }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => { target.innerHTML = html; })
      .catch(() => { target.textContent = "Preview unavailable; your text is not affected."; });
  }

  form.querySelectorAll("textarea[data-preview-target]").forEach((textarea) => {
    const target = document.getElementById(textarea.dataset.previewTarget);
    let timer = null;
    textarea.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => refresh(textarea, target), 400);
    });
    refresh(textarea, target);
  });
})();
