// Copy buttons: `data-copy` holds the text (a prompt, a link). They are shown only when this script runs
// (the `js` class); the text itself is always on the page to select by hand. The result is said in the
// button's status line, which screen readers announce (role="status").
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function say(button, text) {
    var status = document.getElementById(button.getAttribute("aria-describedby") || "");
    if (status) status.textContent = text;
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    area.remove();
    return copied;
  }

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest("button[data-copy]");
    if (!button) return;
    var text = button.getAttribute("data-copy");
    var done = button.getAttribute("data-copied") || "Copied.";
    var failed = "Couldn't copy: select the text and copy it by hand.";
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { say(button, done); },
        function () { say(button, fallbackCopy(text) ? done : failed); }
      );
    } else {
      say(button, fallbackCopy(text) ? done : failed);
    }
  });
})();
