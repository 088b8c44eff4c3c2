// The reader's page: the "On this page" list, open beside the text on a wide screen and collapsed on a
// narrow one, and the highlight on the cited sentence when a reader comes back from a reference.
// Everything works without it: the contents list opens by hand, and back-links still jump to the citation.
(function () {
  "use strict";

  var WIDE = window.matchMedia("(min-width: 68.75rem)"); // about 1,100 px: room for the list beside the text
  var HIGHLIGHT = "cited-sentence";

  function placeContents() {
    document.querySelectorAll("details[data-toc]").forEach(function (details) {
      details.open = WIDE.matches;
    });
  }

  // --- The cited sentence ------------------------------------------------------------------------

  function textOffset(block, node, after) {
    var range = document.createRange();
    range.setStart(block, 0);
    if (after) range.setEndAfter(node);
    else range.setEndBefore(node);
    return range.toString().length;
  }

  // Sentence bounds around a citation, in characters of the block's text. A citation may sit before
  // the full stop ("a claim[1].") or after it ("a claim.[1]"); earlier citation numbers may follow
  // the previous full stop ("Earlier.2 This claim3.").
  function sentenceBounds(text, from, to) {
    var before = text.slice(0, from);
    var core = before.replace(/[\s.!?]+$/, "");
    var start = 0;
    var boundary = /[.!?][\u201d\u2019")\]\d,\u2013-]*\s+/g;
    var match;
    while ((match = boundary.exec(core))) start = match.index + match[0].length;
    var end = to;
    if (!/[.!?]\s*$/.test(before)) {
      var next = /[.!?](?=\s|$)/.exec(text.slice(to));
      end = next ? to + next.index + 1 : text.length;
    }
    return [start, end];
  }

  function rangeFor(block, start, end) {
    var walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    var range = document.createRange();
    var seen = 0;
    var node;
    var started = false;
    while ((node = walker.nextNode())) {
      var length = node.nodeValue.length;
      if (!started && start <= seen + length) {
        range.setStart(node, start - seen);
        started = true;
      }
      if (started && end <= seen + length) {
        range.setEnd(node, end - seen);
        return range;
      }
      seen += length;
    }
    if (started) range.setEndAfter(block.lastChild);
    return started ? range : null;
  }

  function clearHighlight() {
    if (window.CSS && CSS.highlights) CSS.highlights.delete(HIGHLIGHT);
    document.querySelectorAll(".cited-block").forEach(function (el) {
      el.classList.remove("cited-block");
    });
  }

  function highlightCitation(id) {
    var anchor = document.getElementById(id);
    if (!anchor || !anchor.closest(".article-body")) return;
    var marker = anchor.closest("sup") || anchor;
    var block = marker.closest("p, li, td, dd, blockquote") || marker.parentElement;
    clearHighlight();
    if (!(window.CSS && CSS.highlights && window.Highlight)) {
      block.classList.add("cited-block"); // older browsers: the paragraph instead of the sentence
      return;
    }
    var bounds = sentenceBounds(block.textContent, textOffset(block, marker, false), textOffset(block, marker, true));
    var range = rangeFor(block, bounds[0], bounds[1]);
    if (range) CSS.highlights.set(HIGHLIGHT, new Highlight(range));
  }

  function fromHash() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    if (/^cite-\d+-\d+$/.test(id)) highlightCitation(id);
    else clearHighlight();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a.citation-backlink");
    if (!link) return;
    // The hash may not change (the same back-link twice), so highlight on the click itself too.
    highlightCitation(link.getAttribute("href").slice(1));
  });
  window.addEventListener("hashchange", fromHash);
  WIDE.addEventListener("change", placeContents);
  // The audience switch swaps the whole article in: its new contents list needs placing too.
  document.addEventListener("reader:replaced", placeContents);
  placeContents();
  fromHash();
})();
