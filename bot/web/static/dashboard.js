// The dashboard's one script: copy buttons (data-copy-target="<input id>"). The pages work
// without it; the button stays hidden where the Clipboard API is missing (plain http).
(function () {
  "use strict";
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.getElementById("copy-status");
    if (!field || !navigator.clipboard || !window.isSecureContext) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(
        function () {
          if (status) status.textContent = "Copied.";
        },
        function () {
          field.select();
          if (status) status.textContent = "Could not copy: the link is selected, press Ctrl+C (or Cmd+C).";
        }
      );
    });
  });
  document.querySelectorAll("input.link-text").forEach(function (field) {
    field.addEventListener("focus", function () {
      field.select();
    });
  });
})();
