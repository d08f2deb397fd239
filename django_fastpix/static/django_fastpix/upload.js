/*
 * django-fastpix upload widget: progressive enhancement of [data-fastpix-upload] elements
 * rendered by django_fastpix.upload_widget.UploadWidget. Plain ES2019, no framework, no
 * build step, no inline script (CSP-friendly).
 *
 * Flow: choose a file -> POST the create URL (context, filename, size; X-CSRFToken) -> send
 * the file to the returned signed URL (window.Uploader from @fastpix/resumable-uploads when
 * loaded, else one XHR PUT) -> poll status_url until the upload has its media -> set the
 * hidden input (the form field's value = media pk).
 *
 * The root element carries data-state (idle, uploading, paused, processing, linked,
 * cancelled, error) and data-progress (0..100). Events (bubbling CustomEvents on the root):
 *   fastpix:upload-state    {state, progress}   on every state change
 *   fastpix:upload-progress {progress}          while the file is sent
 *   fastpix:upload-linked   {upload, media}     once the media is known
 * The signed upload URL is never written to the page, the console or an event.
 */
(function () {
  "use strict";

  if (window.FastPixUpload) {
    return; // loaded twice (form.media and the widget template): one copy is enough
  }

  var POLL_INTERVAL_MS = 1000;
  var POLL_MAX_MS = 5 * 60 * 1000;
  var FAILED = ["cancelled", "errored", "timed_out"];

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i].trim();
      if (part.substring(0, name.length + 1) === name + "=") {
        return decodeURIComponent(part.substring(name.length + 1));
      }
    }
    return "";
  }

  function csrfToken(root) {
    var form = root.closest("form");
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    if (!input) {
      input = document.querySelector("input[name=csrfmiddlewaretoken]");
    }
    if (input && input.value) {
      return input.value;
    }
    return readCookie(root.getAttribute("data-csrf-cookie-name") || "csrftoken");
  }

  function readJson(response) {
    return response.text().then(function (text) {
      var data = {};
      try {
        data = text ? JSON.parse(text) : {};
      } catch (e) {
        data = {};
      }
      return { ok: response.ok, status: response.status, data: data };
    });
  }

  function Controller(root) {
    this.root = root;
    this.hidden = root.querySelector("[data-fastpix-upload-value]");
    this.fileInput = root.querySelector("[data-fastpix-upload-file]");
    this.progressBar = root.querySelector("[data-fastpix-upload-progress]");
    this.percent = root.querySelector("[data-fastpix-upload-percent]");
    this.statusText = root.querySelector("[data-fastpix-upload-status]");
    this.pauseButton = root.querySelector("[data-fastpix-upload-pause]");
    this.resumeButton = root.querySelector("[data-fastpix-upload-resume]");
    this.cancelButton = root.querySelector("[data-fastpix-upload-cancel]");
    this.createUrl = root.getAttribute("data-create-url");
    this.context = root.getAttribute("data-context");
    this.state = null;
    this.progress = 0;
    this.reset();
    this.setState(root.getAttribute("data-state") || "idle", 0);

    var self = this;
    if (!this.context || !this.createUrl) {
      if (this.fileInput) {
        this.fileInput.disabled = true;
      }
      return;
    }
    if (this.fileInput) {
      this.fileInput.addEventListener("change", function () {
        var file = self.fileInput.files && self.fileInput.files[0];
        if (file) {
          self.start(file);
        }
      });
    }
    if (this.pauseButton) {
      this.pauseButton.addEventListener("click", function () {
        self.pause();
      });
    }
    if (this.resumeButton) {
      this.resumeButton.addEventListener("click", function () {
        self.resume();
      });
    }
    if (this.cancelButton) {
      this.cancelButton.addEventListener("click", function () {
        self.cancel();
      });
    }
  }

  Controller.prototype.reset = function () {
    this.upload = null; // the create answer (minus nothing: it stays in memory only)
    this.uploader = null;
    this.xhr = null;
    this.cancelled = false;
    this.pollTimer = null;
    this.generation = (this.generation || 0) + 1;
  };

  Controller.prototype.emit = function (name, detail) {
    this.root.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: detail }));
  };

  Controller.prototype.say = function (message) {
    if (this.statusText) {
      this.statusText.textContent = message || "";
    }
  };

  Controller.prototype.setProgress = function (value) {
    var progress = Math.max(0, Math.min(100, Number(value) || 0));
    this.progress = progress;
    var shown = Math.floor(progress);
    this.root.setAttribute("data-progress", String(shown));
    if (this.progressBar) {
      this.progressBar.value = progress;
    }
    if (this.percent) {
      this.percent.textContent = shown + "%";
    }
  };

  Controller.prototype.setState = function (state, progress) {
    if (typeof progress === "number") {
      this.setProgress(progress);
    }
    var changed = state !== this.state;
    this.state = state;
    this.root.setAttribute("data-state", state);
    var sending = state === "uploading" || state === "paused";
    var resumable = Boolean(this.uploader);
    if (this.progressBar) {
      this.progressBar.hidden = !(sending || state === "processing");
    }
    if (this.percent) {
      this.percent.hidden = !(sending || state === "processing");
    }
    if (this.pauseButton) {
      this.pauseButton.hidden = !(resumable && state === "uploading");
    }
    if (this.resumeButton) {
      this.resumeButton.hidden = !(resumable && state === "paused");
    }
    if (this.cancelButton) {
      this.cancelButton.hidden = !sending;
    }
    if (this.fileInput && this.context) {
      this.fileInput.disabled = sending || state === "processing";
    }
    if (changed) {
      this.emit("fastpix:upload-state", { state: state, progress: this.progress });
    }
  };

  Controller.prototype.fail = function (message) {
    this.stopPolling();
    this.setState("error");
    this.say(message || "The upload failed.");
  };

  Controller.prototype.post = function (url, fields) {
    var body = new URLSearchParams();
    Object.keys(fields).forEach(function (key) {
      body.append(key, fields[key]);
    });
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "X-CSRFToken": csrfToken(this.root),
        "X-Requested-With": "XMLHttpRequest",
        Accept: "application/json",
      },
      body: body,
    }).then(readJson);
  };

  Controller.prototype.start = function (file) {
    var self = this;
    this.stopPolling();
    this.reset();
    var generation = this.generation;
    this.setState("uploading", 0);
    this.say("Starting the upload…");
    this.post(this.createUrl, { context: this.context, filename: file.name, size: file.size })
      .then(function (answer) {
        if (generation !== self.generation) {
          return;
        }
        if (!answer.ok || !answer.data.url) {
          if (self.cancelled) {
            self.say("Upload cancelled.");
            return;
          }
          self.fail(answer.data.error || "The upload could not start (HTTP " + answer.status + ").");
          return;
        }
        self.upload = answer.data;
        if (self.cancelled) {
          self.cancelRemote();
          return;
        }
        self.send(file, answer.data);
      })
      .catch(function () {
        if (generation === self.generation) {
          self.fail("The upload could not start: the site did not answer.");
        }
      });
  };

  Controller.prototype.send = function (file, started) {
    this.say("Uploading " + file.name + "…");
    if (window.Uploader && typeof window.Uploader.init === "function") {
      this.sendResumable(file, started);
    } else {
      this.sendOnce(file, started);
    }
  };

  Controller.prototype.sendResumable = function (file, started) {
    var self = this;
    var generation = this.generation;
    var options = { endpoint: started.url, file: file };
    if (started.chunk_size_kb) {
      options.chunkSize = started.chunk_size_kb;
    }
    var uploader;
    try {
      uploader = window.Uploader.init(options);
    } catch (e) {
      this.fail(e && e.message ? e.message : "The upload could not start.");
      return;
    }
    this.uploader = uploader;
    this.setState(this.state); // show the pause button now that the uploader exists
    function current() {
      return generation === self.generation && !self.cancelled;
    }
    uploader.on("progress", function (event) {
      if (current()) {
        self.setProgress(event.detail && event.detail.progress);
        self.emit("fastpix:upload-progress", { progress: self.progress });
      }
    });
    uploader.on("error", function (event) {
      if (current()) {
        self.fail((event.detail && event.detail.message) || "The upload failed.");
      }
    });
    uploader.on("offline", function () {
      if (current()) {
        self.say("Connection lost: the upload continues when it is back.");
      }
    });
    uploader.on("online", function () {
      if (current()) {
        self.say("Connection restored: uploading…");
      }
    });
    uploader.on("success", function () {
      if (current()) {
        self.processing();
      }
    });
  };

  Controller.prototype.sendOnce = function (file, started) {
    var self = this;
    var generation = this.generation;
    var xhr = new XMLHttpRequest();
    this.xhr = xhr;
    function current() {
      return generation === self.generation && !self.cancelled;
    }
    xhr.open("PUT", started.url, true);
    if (file.type) {
      xhr.setRequestHeader("Content-Type", file.type);
    }
    xhr.upload.onprogress = function (event) {
      if (current() && event.lengthComputable && event.total) {
        self.setProgress((event.loaded / event.total) * 100);
        self.emit("fastpix:upload-progress", { progress: self.progress });
      }
    };
    xhr.onload = function () {
      if (!current()) {
        return;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        self.processing();
      } else {
        self.fail("The upload failed (HTTP " + xhr.status + ").");
      }
    };
    xhr.onerror = function () {
      if (current()) {
        self.fail("The upload failed: the connection was lost.");
      }
    };
    xhr.send(file);
  };

  Controller.prototype.processing = function () {
    this.uploader = null;
    this.xhr = null;
    this.setState("processing", 100);
    this.say("Uploaded — processing…");
    this.poll(Date.now());
  };

  Controller.prototype.stopPolling = function () {
    if (this.pollTimer) {
      clearTimeout(this.pollTimer);
      this.pollTimer = null;
    }
  };

  Controller.prototype.poll = function (since) {
    var self = this;
    var generation = this.generation;
    var again = function () {
      if (generation !== self.generation || self.state !== "processing") {
        return;
      }
      if (Date.now() - since > POLL_MAX_MS) {
        self.say(
          "Uploaded. FastPix has not reported the video yet: it is linked when it arrives; " +
            "reload the page later."
        );
        return;
      }
      self.pollTimer = setTimeout(function () {
        self.poll(since);
      }, POLL_INTERVAL_MS);
    };
    fetch(this.upload.status_url, {
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-Requested-With": "XMLHttpRequest" },
    })
      .then(readJson)
      .then(function (answer) {
        if (generation !== self.generation) {
          return;
        }
        var data = answer.data;
        if (answer.ok && data.media) {
          self.linked(data);
        } else if (answer.ok && FAILED.indexOf(data.status) !== -1) {
          self.fail(data.error || "The upload ended: " + String(data.status).replace("_", " ") + ".");
        } else {
          again();
        }
      })
      .catch(again);
  };

  Controller.prototype.linked = function (data) {
    this.stopPolling();
    if (this.hidden) {
      this.hidden.value = String(data.media);
      this.hidden.dispatchEvent(new Event("change", { bubbles: true }));
    }
    this.setState("linked", 100);
    if (data.media_status === "ready") {
      this.say("Uploaded — ready.");
    } else if (data.media_status === "failed") {
      this.say("Uploaded, but FastPix could not process the video.");
    } else {
      // Bound to a saved object, the app fills its field itself when FastPix reports the media.
      this.say(
        this.root.hasAttribute("data-bound")
          ? "Uploaded — processing. It is already saved with this object."
          : "Uploaded — processing. Save the form to keep this video."
      );
    }
    this.emit("fastpix:upload-linked", { upload: data.upload, media: data.media });
  };

  Controller.prototype.pause = function () {
    if (this.uploader && this.state === "uploading") {
      this.uploader.pause();
      this.setState("paused");
      this.say("Paused.");
    }
  };

  Controller.prototype.resume = function () {
    if (this.uploader && this.state === "paused") {
      this.uploader.resume();
      this.setState("uploading");
      this.say("Uploading…");
    }
  };

  Controller.prototype.cancel = function () {
    if (this.state !== "uploading" && this.state !== "paused") {
      return;
    }
    this.cancelled = true;
    if (this.uploader) {
      this.uploader.abort();
    }
    if (this.xhr) {
      this.xhr.abort();
    }
    this.uploader = null;
    this.xhr = null;
    this.setState("cancelled");
    this.say("Cancelling…");
    if (this.upload) {
      this.cancelRemote();
    }
    // else: the create request is still out; start() cancels once it answers.
  };

  Controller.prototype.cancelRemote = function () {
    var self = this;
    var generation = this.generation;
    this.post(this.upload.cancel_url, {})
      .then(function (answer) {
        if (generation !== self.generation) {
          return;
        }
        if (answer.ok) {
          self.setState("cancelled");
          self.say("Upload cancelled.");
        } else {
          self.fail(answer.data.error || "The upload could not be cancelled.");
        }
      })
      .catch(function () {
        if (generation === self.generation) {
          self.fail("The upload could not be cancelled: the site did not answer.");
        }
      });
  };

  function init(scope) {
    var container = scope || document;
    var roots = [];
    if (container.matches && container.matches("[data-fastpix-upload]")) {
      roots.push(container);
    }
    if (container.querySelectorAll) {
      roots = roots.concat(Array.prototype.slice.call(container.querySelectorAll("[data-fastpix-upload]")));
    }
    roots.forEach(function (root) {
      // Skip the admin's empty inline template (its names still hold __prefix__).
      if (!root.fastpixUpload && !root.closest(".empty-form")) {
        root.fastpixUpload = new Controller(root);
      }
    });
  }

  window.FastPixUpload = { init: init, Controller: Controller };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      init(document);
    });
  } else {
    init(document);
  }
  // Admin inlines added with "Add another": Django dispatches formset:added on the new row.
  document.addEventListener("formset:added", function (event) {
    init(event.target);
  });
})();
