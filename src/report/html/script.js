// Tooltips for the charts: each hover target (.tip) carries an SVG <title>, which the
// browser shows by itself without this script; with it, the text shows at once beside
// the pointer (or finger) and a guide line marks the point. Defensive: a page without
// charts, or a chart without points, does nothing.
(function () {
  "use strict";
  var tip = document.getElementById("tip");
  if (!tip || !document.querySelectorAll) { return; }
  var targets = document.querySelectorAll("svg.chart .tip");
  if (!targets.length) { return; }
  function hide() {
    tip.hidden = true;
    var on = document.querySelectorAll("svg.chart.hovering");
    for (var i = 0; i < on.length; i++) { on[i].classList.remove("hovering"); }
  }
  function show(target, event) {
    var text = target.getAttribute("data-tip");
    if (text === null) {
      var title = target.querySelector("title");
      if (!title) { return; }
      text = title.textContent || "";
      target.setAttribute("data-tip", text);
      // The script shows it now; the browser's own tooltip would show it twice.
      title.parentNode.removeChild(title);
    }
    tip.textContent = text;
    tip.hidden = false;
    var svg = target.ownerSVGElement;
    var guide = svg ? svg.querySelector(".guide") : null;
    if (guide && target.tagName.toLowerCase() === "rect") {
      var x = parseFloat(target.getAttribute("x")) + parseFloat(target.getAttribute("width")) / 2;
      if (isFinite(x)) {
        guide.setAttribute("x1", x);
        guide.setAttribute("x2", x);
        svg.classList.add("hovering");
      }
    }
    place(event);
  }
  function place(event) {
    if (tip.hidden || !event) { return; }
    var x = event.clientX, y = event.clientY;
    if (typeof x !== "number" || typeof y !== "number") { return; }
    var w = tip.offsetWidth, h = tip.offsetHeight;
    var left = x + 14, top = y + 14;
    if (left + w > window.innerWidth - 4) { left = Math.max(4, x - w - 14); }
    if (top + h > window.innerHeight - 4) { top = Math.max(4, y - h - 14); }
    tip.style.left = left + "px";
    tip.style.top = top + "px";
  }
  for (var i = 0; i < targets.length; i++) {
    (function (target) {
      target.addEventListener("pointerenter", function (event) { show(target, event); });
      target.addEventListener("pointermove", place);
      target.addEventListener("pointerleave", hide);
    })(targets[i]);
  }
  window.addEventListener("scroll", hide, { passive: true });
  window.addEventListener("beforeprint", hide);
})();
