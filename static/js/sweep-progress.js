// The Board's alerts page: follows a running citation sweep without a reload, and offers the new alerts
// once it has finished (the page is not reloaded under the reader's feet).
(function () {
  "use strict";
  var section = document.querySelector("[data-progress-url]");
  if (!section) return;
  var bar = section.querySelector("progress");
  var text = section.querySelector(".sweep-progress");
  var heading = section.querySelector("h2");
  var finished = section.querySelector(".sweep-finished");

  async function poll() {
    try {
      var response = await fetch(section.dataset.progressUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.ok) {
        var progress = await response.json();
        if (progress.known && progress.run === section.dataset.run) {
          bar.max = progress.batches;
          bar.value = progress.done;
          text.textContent = progress.done + " of " + progress.batches + " batches done (" + progress.percent + "%)";
          if (progress.finished) {
            heading.textContent = "Last sweep";
            finished.hidden = false;
            return;
          }
        }
      }
    } catch (error) {
      // Offline for a moment: try again on the next turn.
    }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
