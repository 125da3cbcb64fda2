/* Progressive enhancement only: every page works without this file.
   1. Move the focus to an error summary so that screen readers announce the problems first.
   2. Suggest communes while typing in the search form (native <datalist>); when a suggestion is chosen the form
      sends the commune's INSEE code instead of the text. */
(function () {
  "use strict";

  var summary = document.querySelector("[data-focus-on-load]");
  if (summary) {
    summary.focus();
  }

  var form = document.querySelector("[data-commune-search]");
  if (!form || !window.fetch) {
    return;
  }
  var input = form.querySelector("input[name=q]");
  var list = document.createElement("datalist");
  list.id = "communes-suggestions";
  form.appendChild(list);
  input.setAttribute("list", list.id);
  input.setAttribute("autocomplete", "off");

  var codeByLabel = {};
  var latest = "";
  var timer = null;

  function label(commune) {
    var postcodes = commune.postcodes || [];
    return postcodes.length ? commune.name + " (" + postcodes[0] + ")" : commune.name;
  }

  function suggest(text) {
    latest = text;
    fetch("/api/v1/communes?limit=8&q=" + encodeURIComponent(text), {headers: {Accept: "application/json"}})
      .then(function (response) { return response.ok ? response.json() : {communes: []}; })
      .then(function (body) {
        if (text !== latest) {
          return; // an answer to an older keystroke
        }
        list.textContent = "";
        (body.communes || []).forEach(function (commune) {
          var option = document.createElement("option");
          option.value = label(commune);
          codeByLabel[option.value] = commune.insee_code;
          list.appendChild(option);
        });
      })
      .catch(function () { /* suggestions are a comfort: the plain search still works */ });
  }

  input.addEventListener("input", function () {
    var text = input.value.trim();
    clearTimeout(timer);
    if (text.length >= 2 && !codeByLabel[input.value]) {
      timer = setTimeout(function () { suggest(text); }, 200);
    }
  });

  form.addEventListener("submit", function () {
    var code = codeByLabel[input.value];
    if (!code) {
      return;
    }
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "commune";
    hidden.value = code;
    form.appendChild(hidden);
    input.disabled = true; // the INSEE code says it all; q would only repeat it
  });

  // Coming back with the browser's back button restores this page as it was left: usable again.
  window.addEventListener("pageshow", function () {
    input.disabled = false;
    var hidden = form.querySelector("input[name=commune]");
    if (hidden) {
      hidden.remove();
    }
  });
}());
