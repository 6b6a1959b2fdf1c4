// Every answer that is not a page or fragment to show (a server error, no connection, no answer
// in time) is said in plain words next to the form that asked, and announced to screen readers.
(function () {
  "use strict";
  var TIMEOUT_MS = 30000;

  function sayNextTo(elt, text) {
    var form = elt.closest("form") || elt;
    var note = form.querySelector("[data-request-error]");
    if (!note) {
      note = document.createElement("p");
      note.className = "error notice";
      note.setAttribute("role", "alert");
      note.setAttribute("data-request-error", "");
      var button = form.querySelector("button[type=submit], button:not([type])");
      (button ? button.parentNode : form).insertBefore(note, button ? button.nextSibling : null);
    }
    note.textContent = text;
  }

  function clear(evt) {
    var form = evt.detail.elt.closest("form");
    var note = form && form.querySelector("[data-request-error]");
    if (note) note.remove();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) htmx.config.timeout = TIMEOUT_MS;
  });
  document.addEventListener("htmx:beforeRequest", clear);
  document.addEventListener("htmx:responseError", function (evt) {
    var status = evt.detail.xhr.status;
    sayNextTo(evt.detail.elt, "Something went wrong on our side (error " + status + "). Nothing changed; please try again in a moment.");
  });
  document.addEventListener("htmx:sendError", function (evt) {
    sayNextTo(evt.detail.elt, "The server could not be reached. Check your connection and try again.");
  });
  document.addEventListener("htmx:timeout", function (evt) {
    sayNextTo(evt.detail.elt, "The server did not answer within " + TIMEOUT_MS / 1000 + " seconds. Please try again.");
  });
})();
