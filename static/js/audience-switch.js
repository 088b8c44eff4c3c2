// "Which best describes you?" without a full reload.
//
// The switch's links go to the bare article URL with ?audience=…, which remembers the choice in an
// httponly cookie and redirects to the audience's own URL. Without JavaScript that is simply followed.
// With it, we fetch the same link (so the cookie is set the same way), swap in the new <article>,
// update the title, canonical link, description and JSON-LD, and push the final URL onto the history.
(function () {
  "use strict";

  var ARTICLE = "article.reader";
  var SWITCH_LINK = ".audience-switch a[data-audience]";

  function currentChoiceUrl(root) {
    var link = root.querySelector(SWITCH_LINK + "[aria-current]");
    return link ? link.href : window.location.href;
  }

  function copyHead(from) {
    var pairs = [
      ['link[rel="canonical"]', "href"],
      ['meta[name="description"]', "content"],
    ];
    pairs.forEach(function (pair) {
      var source = from.querySelector(pair[0]);
      var target = document.querySelector(pair[0]);
      if (source && target) target.setAttribute(pair[1], source.getAttribute(pair[1]));
    });
    var data = from.getElementById("structured-data");
    var ours = document.getElementById("structured-data");
    // A data block, never executed: replacing its text is safe under the Content-Security-Policy.
    if (data && ours) ours.textContent = data.textContent;
    document.title = from.title;
  }

  function announce(article) {
    var status = document.getElementById("audience-status");
    var chosen = article.querySelector(SWITCH_LINK + "[aria-current]");
    if (status && chosen) status.textContent = "Showing the version for: " + chosen.textContent.trim();
    if (chosen) chosen.focus();
  }

  async function show(url, push) {
    var article = document.querySelector(ARTICLE);
    if (!article) {
      window.location.href = url;
      return;
    }
    article.setAttribute("aria-busy", "true");
    try {
      var response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok) throw new Error("HTTP " + response.status);
      var doc = new DOMParser().parseFromString(await response.text(), "text/html");
      var next = doc.querySelector(ARTICLE);
      if (!next) throw new Error("no article in the response");
      article.replaceWith(next);
      document.dispatchEvent(new CustomEvent("reader:replaced"));
      copyHead(doc);
      if (push) window.history.pushState({ audienceUrl: url }, "", response.url);
      announce(next);
    } catch (error) {
      // Anything unexpected: let the browser do a normal page load of the same link.
      window.location.href = url;
    }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest(SWITCH_LINK);
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return; // new tab or window
    event.preventDefault();
    if (link.getAttribute("aria-current")) return;
    show(link.href, true);
  });

  window.addEventListener("popstate", function (event) {
    if (event.state && event.state.audienceUrl) show(event.state.audienceUrl, false);
  });

  // The first history entry gets a state too, so "back" after a switch restores (and remembers) it.
  var first = document.querySelector(ARTICLE);
  if (first) window.history.replaceState({ audienceUrl: currentChoiceUrl(first) }, "", window.location.href);
})();
