// Live preview in the article editor: sends the Markdown to the server's renderer (the same one readers
// get, sanitised there) and shows the result under the text box. Without JavaScript the editor still works.
(function () {
  "use strict";
  const form = document.querySelector("form[data-preview-url]");
  if (!form) return;
  const url = form.dataset.previewUrl;
  const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  // The body box is named "<audience>-body"; its heading and bottom line sit beside it with the same prefix,
  // so the preview can show the reading level of the whole version as typed.
  function fieldsOf(textarea) {
    const audience = textarea.name.replace(/-body$/, "");
    const value = (name) => (form.elements[`${audience}-${name}`] || { value: "" }).value;
    return { audience, title: value("title"), summary: value("summary"), body: textarea.value };
  }

  function refresh(textarea, target) {
    const body = new URLSearchParams(fieldsOf(textarea));
    fetch(url, { method: "POST", body, headers: { "X-CSRFToken": token }, credentials: "same-origin" })
      // 422: the text is over a limit; the answer names it.
      .then((response) => (response.ok || response.status === 422 ? response.text() : Promise.reject(response.status)))
      .then((html) => { target.innerHTML = html; })
      .catch(() => { target.textContent = "Preview unavailable; your text is not affected."; });
  }

  form.querySelectorAll("textarea[data-preview-target]").forEach((textarea) => {
    const target = document.getElementById(textarea.dataset.previewTarget);
    const audience = fieldsOf(textarea).audience;
    let timer = null;
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(() => refresh(textarea, target), 400);
    };
    [textarea, form.elements[`${audience}-title`], form.elements[`${audience}-summary`]]
      .filter(Boolean)
      .forEach((field) => field.addEventListener("input", later));
    refresh(textarea, target);
  });
})();
