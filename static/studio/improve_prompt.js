// "Improve my prompt": the network's llm rewrites the prompt, written into the field as it streams
// (OpenAI chat.completion.chunk events from /prompt/improve/). The member's own words come back
// with "Undo". Every state is said in the status line next to the button (role=status).
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function say(status, text) {
    status.textContent = text;
  }

  async function improve(button) {
    var form = button.closest("form");
    var field = document.getElementById(button.dataset.field);
    var status = document.getElementById("improve-prompt-status");
    var original = field.value;
    if (!original.trim()) {
      say(status, "Type an idea first, then ask to improve it.");
      field.focus();
      return;
    }
    button.disabled = true;
    say(status, "Asking the network's language model…");
    var body = new FormData();
    body.append("prompt", original);
    var written = "";
    try {
      var response = await fetch(button.dataset.url, {
        method: "POST",
        body: body,
        headers: { "X-CSRFToken": csrfToken(form) },
        credentials: "same-origin",
      });
      if (!response.ok) {
        var detail = await response.json().catch(function () { return null; });
        var msg = detail && detail.detail && detail.detail.msg;
        say(status, msg || "Prompt help failed (error " + response.status + "). Your prompt is unchanged.");
        return;
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var pending = "";
      for (;;) {
        var next = await reader.read();
        if (next.done) break;
        pending += decoder.decode(next.value, { stream: true });
        var lines = pending.split("\n");
        pending = lines.pop();
        for (var i = 0; i < lines.length; i++) {
          var line = lines[i];
          if (line.indexOf("data: ") !== 0 || line === "data: [DONE]") continue;
          var chunk = JSON.parse(line.slice(6));
          // A failure after the stream began is the API's error body as a chunk: {"detail": {"msg"}, "status"}.
          if (chunk.detail) {
            field.value = original;
            say(status, "Prompt help failed: " + (chunk.detail.msg || "error " + chunk.status) + " Your prompt is unchanged.");
            return;
          }
          var delta = chunk.choices && chunk.choices[0].delta;
          if (delta && delta.content) {
            written += delta.content;
            field.value = written.trimStart();
            field.dispatchEvent(new Event("input", { bubbles: true }));
            say(status, "Writing…");
          }
        }
      }
      if (!written.trim()) {
        field.value = original;
        say(status, "The model had nothing to add. Your prompt is unchanged.");
        return;
      }
      say(status, "Improved. ");
      var undo = document.createElement("button");
      undo.type = "button";
      undo.className = "link";
      undo.id = "undo-improve-prompt";
      undo.textContent = "Undo";
      undo.addEventListener("click", function () {
        field.value = original;
        say(status, "Your own prompt is back.");
        field.focus();
      });
      status.appendChild(undo);
    } catch (err) {
      field.value = original;
      say(status, "The server could not be reached. Your prompt is unchanged.");
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest("#improve-prompt");
    if (button) improve(button);
  });
})();
