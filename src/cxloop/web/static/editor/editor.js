// The survey editor, part 4 of 4: page and question cards, the survey-level
// sections, the structured/JSON views, saving and the preview; it starts the
// editor, so it must be the last part loaded.
(function (E) {
  "use strict";

  var LANGUAGE_PATTERN = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

  var S = E.state;
  var allQuestions = E.allQuestions, changeType = E.changeType, changed = E.changed, checkField = E.checkField,
    conditionEditor = E.conditionEditor, defaultsFor = E.defaultsFor, field = E.field, fmt = E.fmt, h = E.h,
    iconButton = E.iconButton, itemTools = E.itemTools, join = E.join, keyOf = E.keyOf, labelOf = E.labelOf,
    langText = E.langText, newId = E.newId, pretty = E.pretty, rerender = E.rerender, resetIds = E.resetIds,
    selectField = E.selectField, setDirty = E.setDirty, shorten = E.shorten, showErrors = E.showErrors,
    skipRules = E.skipRules, stripLanguage = E.stripLanguage, textField = E.textField, textIn = E.textIn,
    typeFields = E.typeFields, uniqueId = E.uniqueId;

  var expanded = E.expanded;
  var cardObjects = E.cardObjects;

  // --- cards ----------------------------------------------------------------------------------

  // A collapsible card: a toggle button in the header, the body below.
  function card(object, title, tools, body, path, kind) {
    var bodyId = newId("body");
    var open = expanded.has(object);
    var toggle = h("button", {
      type: "button",
      class: "toggle",
      "aria-expanded": open ? "true" : "false",
      "aria-controls": bodyId,
      "data-focus": keyOf(object) + ":toggle",
      onclick: function () {
        var nowOpen = toggle.getAttribute("aria-expanded") !== "true";
        toggle.setAttribute("aria-expanded", nowOpen ? "true" : "false");
        bodyEl.hidden = !nowOpen;
        if (nowOpen) {
          expanded.add(object);
        } else {
          expanded.delete(object);
        }
      },
    }, [title]);
    var bodyEl = h("div", { class: "card-body", id: bodyId }, body);
    bodyEl.hidden = !open;
    var item = h("li", { class: "item " + kind, "data-path": path, "data-card": "true" }, [
      h("div", { class: "item-head" }, [toggle, tools]),
      bodyEl,
    ]);
    cardObjects.set(item, object);
    return item;
  }

  // --- questions ---------------------------------------------------------------------------

  function questionCard(page, pageIndex, index) {
    var list = page.questions;
    var q = list[index];
    var path = join(join(join("pages", pageIndex), "questions"), index);
    var name = fmt(S.T.question, { n: index + 1 });
    var typeLabel = labelOf(S.settings.question_types, q.type);
    var title = name + " · " + typeLabel + " · " + (q.id || "") + (textIn(q.text) ? " · " + shorten(textIn(q.text), 40) : "");
    var base = keyOf(q);
    var types = S.settings.question_types;
    var oldType = q.type;
    var typeSelect = selectField(q, "type", join(path, "type"), S.T.question_type, types, { focus: base + ":type" });
    typeSelect.querySelector("select").addEventListener("change", function (event) {
      changeType(q, oldType, event.target.value);
      rerender(base + ":type");
    });
    var body = [
      h("div", { class: "inline-fields" }, [
        textField(q, "id", join(path, "id"), S.T.question_id, { keepEmpty: true, spellcheck: false, focus: base + ":id", fieldClass: "short" }),
        typeSelect,
      ]),
      langText(q, "text", join(path, "text"), S.T.question_text, true, base + ":text"),
      langText(q, "description", join(path, "description"), S.T.description, false),
      checkField(q, "required", join(path, "required"), S.T.required, base + ":required"),
    ].concat(typeFields(q, path));
    if (pageIndex > 0) {
      body.push(conditionEditor(q, "display_logic", join(path, "display_logic"), S.T.display_logic, ["none", "all", "any"], false));
    }
    var tools = itemTools(list, index, name, base, keyOf(page) + ":add-question");
    return card(q, title, tools, body, path, "question");
  }

  // --- pages -------------------------------------------------------------------------------

  function addQuestionRow(page) {
    var select = h("select", { "data-focus": keyOf(page) + ":new-type" }, S.settings.question_types.map(function (pair) {
      return h("option", { value: pair[0], text: pair[1] });
    }));
    var button = h("button", {
      type: "button",
      "data-focus": keyOf(page) + ":add-question",
      onclick: function () {
        var taken = allQuestions().map(function (item) { return item.question.id; });
        var question = { id: uniqueId("q", taken), type: select.value, text: {} };
        var defaults = defaultsFor(select.value);
        Object.keys(defaults).forEach(function (k) { question[k] = defaults[k]; });
        page.questions = page.questions || [];
        page.questions.push(question);
        expanded.add(question);
        rerender(keyOf(question) + ":text");
      },
    }, [S.T.add_question]);
    return h("div", { class: "add-question" }, [field(S.T.question_type, select, null, "short"), button]);
  }

  function pageCard(index) {
    var page = S.doc.pages[index];
    var path = join("pages", index);
    var name = fmt(S.T.page, { n: index + 1 });
    var title = name + " · " + (page.id || "") + (page.title ? " · " + shorten(textIn(page.title), 40) : "");
    var questions = h("ol", { class: "questions" });
    (page.questions || []).forEach(function (_, qi) {
      questions.appendChild(questionCard(page, index, qi));
    });
    var body = [
      textField(page, "id", join(path, "id"), S.T.page_id, { keepEmpty: true, spellcheck: false, fieldClass: "short" }),
      langText(page, "title", join(path, "title"), S.T.page_title, false),
    ];
    if (index > 0) {
      body.push(conditionEditor(page, "display_logic", join(path, "display_logic"), S.T.display_logic, ["none", "all", "any"], false));
    }
    if (!(page.questions || []).length) {
      body.push(h("p", { class: "note", text: S.T.no_questions }));
    }
    body.push(questions, addQuestionRow(page), skipRules(page, index));
    var tools = itemTools(S.doc.pages, index, name, keyOf(page), "add-page");
    return card(page, title, tools, body, path, "page");
  }

  // --- survey-level sections ---------------------------------------------------------------

  function languageSection() {
    var languages = S.doc.languages = S.doc.languages || [];
    var list = h("ul", { class: "language-list", "data-path": "languages" });
    languages.forEach(function (lang, index) {
      list.appendChild(h("li", { "data-path": join("languages", index) }, [
        h("span", { lang: lang, text: lang }),
        languages.length > 1 ? iconButton("×", fmt(S.T.remove_language, { lang: lang }), function () {
          if (!window.confirm(fmt(S.T.confirm_delete, { name: lang }))) {
            return;
          }
          languages.splice(index, 1);
          stripLanguage(S.doc, lang);
          if (S.doc.default_language === lang) {
            S.doc.default_language = languages[0];
          }
          rerender("add-language");
        }, { danger: true }) : null,
      ]));
    });
    var input = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
    var problem = h("p", { class: "field-error", hidden: true, id: newId("lang-error") });
    var add = h("button", {
      type: "button",
      class: "small",
      "data-focus": "add-language",
      onclick: function () {
        var tag = input.value.trim();
        if (!LANGUAGE_PATTERN.test(tag) || languages.indexOf(tag) !== -1) {
          problem.textContent = S.T.language_tag;
          problem.hidden = false;
          input.setAttribute("aria-invalid", "true");
          input.setAttribute("aria-describedby", problem.id);
          input.focus();
          return;
        }
        languages.push(tag);
        rerender("add-language");
      },
    }, [S.T.add_language]);
    return h("fieldset", { class: "languages" }, [
      h("legend", { text: S.T.languages }),
      list,
      h("div", { class: "add-language" }, [field(S.T.language_tag, input, null, "short"), add]),
      problem,
      selectField(S.doc, "default_language", "default_language", S.T.default_language, languages.map(function (l) {
        return [l, l];
      }), { rerender: true, fieldClass: "short" }),
    ]);
  }

  function embeddedSection() {
    var items = S.doc.embedded = S.doc.embedded || [];
    var list = h("ol", { class: "option-list", "data-path": "embedded" });
    items.forEach(function (item, index) {
      var path = join("embedded", index);
      var name = fmt(S.T.embedded_field, { n: index + 1 });
      list.appendChild(h("li", { class: "option", "data-path": path }, [
        h("div", { class: "option-head" }, [
          h("span", { class: "option-name", text: name }),
          itemTools(items, index, name, keyOf(item), "add-embedded"),
        ]),
        h("div", { class: "inline-fields" }, [
          textField(item, "name", join(path, "name"), S.T.embedded_name, { keepEmpty: true, spellcheck: false, fieldClass: "short" }),
          textField(item, "default", join(path, "default"), S.T.embedded_default, {}),
        ]),
      ]));
    });
    return section(S.T.embedded, [
      h("p", { class: "note", text: S.T.embedded_help }),
      list,
      h("button", {
        type: "button",
        class: "small",
        "data-focus": "add-embedded",
        onclick: function () {
          items.push({ name: uniqueId("field", items.map(function (e) { return e.name; })) });
          rerender("add-embedded");
        },
      }, [S.T.add_embedded]),
    ]);
  }

  function themeSection() {
    var theme = S.doc.theme = S.doc.theme || {};
    var text = h("input", { type: "text", value: theme.color || "", autocomplete: "off", spellcheck: "false" });
    var picker = h("input", { type: "color", value: /^#[0-9A-Fa-f]{6}$/.test(theme.color || "") ? theme.color : "#0b5fcc" });
    text.addEventListener("input", function () {
      if (text.value === "") {
        delete theme.color;
      } else {
        theme.color = text.value;
      }
      if (/^#[0-9A-Fa-f]{6}$/.test(text.value)) {
        picker.value = text.value;
      }
      changed();
    });
    picker.addEventListener("input", function () {
      theme.color = picker.value;
      text.value = picker.value;
      changed();
    });
    return section(S.T.theme, [
      h("div", { class: "inline-fields" }, [
        field(S.T.color, text, "theme.color", "short"),
        field(S.T.color_picker, picker, null, "short"),
      ]),
      textField(theme, "logo_url", "theme.logo_url", S.T.logo_url, { spellcheck: false }),
    ]);
  }

  function thankYouSection() {
    var items = S.doc.thank_you = S.doc.thank_you || [];
    var outcomes = S.settings.outcomes;
    var list = h("ol", { class: "option-list", "data-path": "thank_you" });
    items.forEach(function (item, index) {
      var path = join("thank_you", index);
      var name = fmt(S.T.thank_you_n, { n: index + 1 });
      list.appendChild(h("li", { class: "option", "data-path": path }, [
        h("div", { class: "option-head" }, [
          h("span", { class: "option-name", text: name }),
          itemTools(items, index, name, keyOf(item), "add-thank-you"),
        ]),
        selectField(item, "outcome", join(path, "outcome"), S.T.outcome, outcomes, { fieldClass: "short" }),
        langText(item, "message", join(path, "message"), S.T.message, true),
      ]));
    });
    return section(S.T.thank_you, [
      list,
      h("button", {
        type: "button",
        class: "small",
        "data-focus": "add-thank-you",
        onclick: function () {
          var used = items.map(function (t) { return t.outcome || "default"; });
          var free = S.settings.outcomes.map(function (pair) { return pair[0]; })
            .filter(function (o) { return used.indexOf(o) === -1; })[0];
          items.push({ outcome: free || "default", message: {} });
          rerender("add-thank-you");
        },
      }, [S.T.add_thank_you]),
      textField(S.doc, "redirect_url", "redirect_url", S.T.redirect_url, { type: "url", spellcheck: false }),
    ]);
  }

  function section(title, children) {
    var id = newId("h");
    return h("section", { class: "editor-section", "aria-labelledby": id }, [h("h3", { id: id, text: title })].concat(children));
  }

  function render() {
    resetIds();
    var pages = h("ol", { class: "pages" });
    (S.doc.pages || []).forEach(function (_, index) {
      pages.appendChild(pageCard(index));
    });
    var survey = section(S.T.survey, [
      langText(S.doc, "title", "title", S.T.title, true, "survey-title"),
      langText(S.doc, "description", "description", S.T.description, false),
      languageSection(),
    ]);
    var pageSection = section(S.T.pages, [
      pages,
      h("button", {
        type: "button",
        "data-focus": "add-page",
        onclick: function () {
          S.doc.pages = S.doc.pages || [];
          var page = { id: uniqueId("p", S.doc.pages.map(function (p) { return p.id; })), questions: [] };
          S.doc.pages.push(page);
          expanded.add(page);
          rerender(keyOf(page) + ":toggle");
        },
      }, [S.T.add_page]),
    ]);
    pageSection.dataset.path = "pages";
    S.root.replaceChildren(survey, pageSection, embeddedSection(), themeSection(), thankYouSection());
    showErrors(S.lastErrors, false);
  }

  // --- views, saving, preview --------------------------------------------------------------

  function showView(next) {
    if (next === S.view) {
      return true;
    }
    if (next === "json") {
      S.textarea.value = pretty(S.doc);
    } else {
      try {
        S.doc = JSON.parse(S.textarea.value);
      } catch (e) {
        S.statusBox.textContent = S.T.bad_json;
        return false;
      }
      if (!S.doc || typeof S.doc !== "object" || Array.isArray(S.doc)) {
        S.statusBox.textContent = S.T.bad_json;
        return false;
      }
    }
    S.view = next;
    S.root.hidden = S.view !== "structured";
    S.jsonView.hidden = S.view !== "json";
    document.querySelectorAll("[data-view]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.dataset.view === S.view ? "true" : "false");
    });
    if (S.view === "structured") {
      render();
    } else {
      showErrors(S.lastErrors, false);
    }
    return true;
  }

  function refreshPreview() {
    var frame = document.getElementById("preview-frame");
    if (!frame) {
      return;
    }
    var lang = document.getElementById("preview-lang").value;
    var pageNumber = document.getElementById("preview-page").value || "1";
    frame.src = "/surveys/" + encodeURIComponent(S.form.dataset.survey) + "/preview?lang=" +
      encodeURIComponent(lang) + "&page=" + encodeURIComponent(pageNumber);
  }

  function syncPreviewChoices() {
    var langSelect = document.getElementById("preview-lang");
    var pageSelect = document.getElementById("preview-page");
    var lang = langSelect.value;
    var pageNumber = pageSelect.value;
    langSelect.replaceChildren.apply(langSelect, (S.doc.languages || []).map(function (l) {
      return h("option", { value: l, lang: l, text: l });
    }));
    if ((S.doc.languages || []).indexOf(lang) !== -1) {
      langSelect.value = lang;
    }
    pageSelect.replaceChildren.apply(pageSelect, (S.doc.pages || []).map(function (_, i) {
      return h("option", { value: String(i + 1), text: String(i + 1) });
    }));
    if (Number(pageNumber) <= (S.doc.pages || []).length) {
      pageSelect.value = pageNumber;
    }
  }

  function save(event) {
    event.preventDefault();
    if (S.view === "structured") {
      S.textarea.value = pretty(S.doc);
    }
    var button = document.getElementById("save-button");
    button.disabled = true;
    S.statusBox.textContent = S.T.saving;
    fetch(S.form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(S.form)),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        return { status: response.status, body: body };
      });
    }).then(function (result) {
      button.disabled = false;
      var body = result.body || {};
      // A lapsed session redirects to the sign-in page, which is no answer to a save.
      if (result.status === 200 && typeof body.version === "number") {
        if (S.view === "json") {
          S.doc = JSON.parse(S.textarea.value);
        }
        showErrors([], false);
        setDirty(false);
        S.statusBox.textContent = body.message || S.T.saved;
        updateHeader(body);
        syncPreviewChoices();
        refreshPreview();
      } else if (result.status === 422 && Array.isArray(body.errors)) {
        S.statusBox.textContent = fmt(S.T.errors_found, { n: body.errors.length });
        showErrors(body.errors, true);
      } else {
        S.statusBox.textContent = body.detail || S.T.save_failed;
      }
    }).catch(function () {
      button.disabled = false;
      S.statusBox.textContent = S.T.save_failed;
    });
  }

  function updateHeader(body) {
    var status = document.querySelector("[data-testid=status]");
    var version = document.querySelector("[data-testid=version]");
    var note = document.getElementById("version-note");
    var publish = document.getElementById("publish-form");
    var title = document.getElementById("survey-title");
    if (status && body.status) {
      status.textContent = body.status_label;
      status.className = "status status-" + body.status;
    }
    if (version && body.version) {
      version.textContent = version.textContent.replace(/\d+/, String(body.version));
    }
    if (note && body.version_note) {
      note.textContent = body.version_note;
    }
    if (publish) {
      publish.hidden = !body.can_publish;
    }
    if (title) {
      var pageLang = document.documentElement.lang;
      title.textContent = (S.doc.title && S.doc.title[pageLang]) || textIn(S.doc.title) || title.textContent;
    }
  }

  function viewSwitch() {
    var bar = h("div", { class: "view-switch", role: "group", "aria-label": S.T.structured + " / " + S.T.json });
    [["structured", S.T.structured], ["json", S.T.json]].forEach(function (pair) {
      bar.appendChild(h("button", {
        type: "button",
        "data-view": pair[0],
        "aria-pressed": pair[0] === S.view ? "true" : "false",
        onclick: function () { showView(pair[0]); },
      }, [pair[1]]));
    });
    return bar;
  }

  function start() {
    S.form = document.getElementById("editor-form");
    S.textarea = document.getElementById("definition");
    S.root = document.getElementById("structured");
    S.jsonView = document.getElementById("json-view");
    S.statusBox = document.getElementById("save-status");
    var settingsEl = document.getElementById("editor-settings");
    if (!S.form || !S.textarea || !S.root || !settingsEl || S.textarea.readOnly || !S.statusBox) {
      return;
    }
    S.settings = JSON.parse(settingsEl.textContent);
    S.T = S.settings.texts;
    try {
      S.doc = JSON.parse(S.textarea.value);
    } catch (e) {
      return; // an unparsable submission came back with its errors: stay in the JSON view
    }
    var note = document.getElementById("publish-note");
    if (note) {
      note.dataset.text = note.textContent;
    }
    S.summaryBox = h("div", { class: "error-summary", tabindex: "-1", role: "alert", hidden: true });
    S.form.prepend(viewSwitch(), S.summaryBox);
    S.root.hidden = false;
    S.jsonView.hidden = true;
    S.textarea.addEventListener("input", changed);
    S.form.addEventListener("submit", save);
    var errorsEl = document.getElementById("editor-errors");
    S.lastErrors = errorsEl ? JSON.parse(errorsEl.textContent) : [];
    render();
    ["preview-lang", "preview-page"].forEach(function (id) {
      var select = document.getElementById(id);
      if (select) {
        select.addEventListener("change", refreshPreview);
      }
    });
    var show = document.getElementById("preview-show");
    if (show) {
      show.hidden = true;
    }
    window.addEventListener("beforeunload", function (event) {
      if (S.dirty) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    S.form.dataset.ready = "true";
  }

  E.render = render;

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})(window.cxloopEditor);
