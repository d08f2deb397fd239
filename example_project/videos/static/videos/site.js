/*
 * The example site's two bits of JavaScript (no inline script):
 * - a live event page (#live[data-live-status-url]) polls the stream's state and reloads when
 *   it changes, so a viewer sees the broadcast start (and stop) without reloading by hand;
 * - a lesson page's upload form offers to show the new video once the upload is linked.
 */
(function () {
  "use strict";

  function pollLive(root) {
    var url = root.getAttribute("data-live-status-url");
    var shown = root.getAttribute("data-live-status");
    var every = Number(root.getAttribute("data-poll-ms")) || 5000;
    function again() {
      setTimeout(check, every);
    }
    function check() {
      fetch(url, { cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (data && data.status && data.status !== shown) {
            window.location.reload();
          } else {
            again();
          }
        })
        .catch(again);
    }
    again();
  }

  function init() {
    var live = document.querySelector("#live[data-live-status-url]");
    if (live) {
      pollLive(live);
    }
    document.addEventListener("fastpix:upload-linked", function () {
      var link = document.querySelector("[data-lesson-reload]");
      if (link) {
        link.hidden = false;
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
