/* Writing help for every box where a member writes (POST /preview): warns of text that could
   identify a patient as they type, and shows the post as it will look. Each
   [data-privacy-check] names its textarea (data-for) and, for new topics, the title
   (data-title); data-toolbar adds the formatting buttons, data-draft-key keeps a draft on the
   server as they type. Ctrl+Enter posts. Posting never depends on it: the server checks again. */
(() => {
  const token = document.querySelector('meta[name="csrf-token"]');
  if (!token) return;
  const make = (tag, text, cls) => Object.assign(document.createElement(tag), {textContent: text || '', className: cls || ''});
  // Offsets count code points, the textarea UTF-16 units.
  const units = (text, n) => {
    let i = 0;
    for (const c of text) { if (n-- <= 0) break; i += c.length; }
    return i;
  };
  // @names as they are typed (GET /users/search.json): a list under the box, chosen with the
  // arrow keys and Enter or Tab, or a click; Escape closes it. The box keeps the focus, and
  // a status line says what is found and chosen (not every screen reader follows
  // aria-activedescendant on a textarea).
  const mentions = (box, url, where, k) => {
    const list = make('ul', '', 'mention-list'), status = make('p', '', 'visually-hidden');
    list.id = `mention-list-${k + 1}`;
    list.setAttribute('role', 'listbox');
    list.setAttribute('aria-label', 'Members to mention');
    status.setAttribute('role', 'status');
    box.setAttribute('aria-autocomplete', 'list');
    box.setAttribute('aria-controls', list.id);
    box.after(list, status);
    list.hidden = true;
    let at = -1, active = -1, timer, asked = 0, said = '';
    // The name being typed before the caret, by the server's rule for a mention
    // (content/markdown.py): "@" not straight after a letter, digit or "_@./\-".
    const typed = () => {
      const before = box.value.slice(0, box.selectionStart), m = /(?:^|[^\w@./\\-])@(\w[\w.-]{0,19})$/.exec(before);
      return m && {name: m[1], at: before.length - m[1].length - 1};
    };
    const say = (text) => { if (text !== said) status.textContent = said = text; };
    const empty = () => {
      list.hidden = true;
      list.textContent = '';
      active = -1;
      box.removeAttribute('aria-activedescendant');
    };
    const close = () => {
      ++asked; // a lookup still on its way opens nothing
      clearTimeout(timer);
      empty();
      say('');
    };
    const pick = (i) => {
      active = i;
      [...list.children].forEach((li, j) => li.setAttribute('aria-selected', j === i));
      box.setAttribute('aria-activedescendant', list.children[i].id);
      say(`${list.children[i].textContent}, ${i + 1} of ${list.children.length}`);
    };
    const choose = (name) => {
      const now = typed();
      if (!now || now.at !== at) return close(); // the caret has moved off the name
      const end = box.selectionStart;
      box.value = `${box.value.slice(0, at)}@${name} ${box.value.slice(end)}`;
      box.selectionStart = box.selectionEnd = at + name.length + 2;
      close();
      box.dispatchEvent(new Event('input'));
    };
    const lookup = async () => {
      const now = typed();
      if (!now || document.activeElement !== box) return close();
      const n = ++asked;
      try {
        const r = await fetch(`${url}?term=${encodeURIComponent(now.name)}${where}`, {headers: {Accept: 'application/json'}});
        const data = r.ok && await r.json();
        if (!data || n !== asked || document.activeElement !== box) return;
        empty();
        at = now.at;
        data.users.forEach((u, i) => {
          const li = list.appendChild(make('li', `@${u.username}`));
          li.id = `${list.id}-${i}`;
          li.setAttribute('role', 'option');
          li.setAttribute('aria-selected', 'false');
          li.onmousedown = (e) => { e.preventDefault(); choose(u.username); }; // the box keeps the focus
        });
        const found = data.users.length;
        list.hidden = !found;
        if (found) list.scrollIntoView({block: 'nearest'}); // a tall box on a phone hides it
        say(found ? `${found} member${found > 1 ? 's' : ''} found: arrow keys to choose, Enter to add.` : '');
      } catch (e) { /* offline: names can still be typed */ }
    };
    box.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(lookup, 200);
    });
    box.addEventListener('keydown', (e) => {
      const count = list.children.length;
      if (list.hidden || !count || e.isComposing) return;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        pick(e.key === 'ArrowDown' ? (active + 1) % count : (active < 1 ? count : active) - 1);
      } else if ((e.key === 'Enter' || e.key === 'Tab') && active >= 0) {
        e.preventDefault();
        choose(list.children[active].textContent.slice(1));
      } else if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation(); // only the list closes, not the bell's menu
        close();
      } else if (/^(ArrowLeft|ArrowRight|Home|End|PageUp|PageDown)$/.test(e.key)) {
        close(); // the caret moves off the name
      }
    });
    box.addEventListener('click', close);
    box.addEventListener('blur', close);
  };
  // Markdown around the selection, from a toolbar (one Tab stop; the arrow keys move along it)
  // or Ctrl+B and Ctrl+I in the box. Typed in as the browser's own editing, so Ctrl+Z undoes it.
  const edit = (box, from, to, text, select) => {
    box.focus();
    box.setSelectionRange(from, to);
    if (!document.execCommand('insertText', false, text)) {
      box.setRangeText(text);
      box.dispatchEvent(new Event('input', {bubbles: true}));
    }
    box.setSelectionRange(from + select[0], from + select[1]);
  };
  const wrap = (mark, placeholder) => (box) => {
    const {selectionStart: s, selectionEnd: e} = box, chosen = box.value.slice(s, e) || placeholder;
    edit(box, s, e, mark + chosen + mark, [mark.length, mark.length + chosen.length]);
  };
  const link = (box) => { // the address is selected, to be typed over
    const {selectionStart: s, selectionEnd: e} = box, chosen = box.value.slice(s, e) || 'link text';
    const text = `[${chosen}](https://)`;
    edit(box, s, e, text, [chosen.length + 3, text.length - 1]);
  };
  const lines = (mark) => (box) => { // each line of the selection, or the caret's line
    const v = box.value, s = box.selectionStart && v.lastIndexOf('\n', box.selectionStart - 1) + 1;
    const e = box.selectionEnd > s && v[box.selectionEnd - 1] === '\n' ? box.selectionEnd - 1 : box.selectionEnd;
    const end = v.indexOf('\n', e) < 0 ? v.length : v.indexOf('\n', e);
    const text = v.slice(s, end).split('\n').map((line) => mark + line).join('\n');
    edit(box, s, end, text, [text.length, text.length]);
  };
  const tools = [ // name, shown, what it does, its keys
    ['Bold', 'Bold', wrap('**', 'bold text'), 'Control+B'],
    ['Italic', 'Italic', wrap('*', 'italic text'), 'Control+I'],
    ['Link', 'Link', link],
    ['Bulleted list', 'List', lines('- ')],
    ['Quote', 'Quote', lines('> ')],
  ];
  const toolbar = (box) => {
    const bar = make('div', '', 'toolbar');
    bar.setAttribute('role', 'toolbar');
    bar.setAttribute('aria-label', 'Formatting');
    bar.setAttribute('aria-controls', box.id);
    const buttons = tools.map(([name, shown, act, keys], i) => {
      const b = bar.appendChild(make('button', shown, `secondary tool-${shown.toLowerCase()}`));
      b.type = 'button';
      b.tabIndex = i ? -1 : 0;
      if (name !== shown) b.setAttribute('aria-label', name);
      if (keys) b.setAttribute('aria-keyshortcuts', keys);
      b.onclick = () => act(box);
      return b;
    });
    bar.onkeydown = (e) => {
      const i = buttons.indexOf(document.activeElement), n = buttons.length;
      const j = {ArrowRight: i + 1, ArrowLeft: i + n - 1, Home: 0, End: n - 1}[e.key];
      if (i < 0 || j === undefined) return;
      e.preventDefault();
      buttons[i].tabIndex = -1;
      buttons[j % n].tabIndex = 0;
      buttons[j % n].focus();
    };
    box.before(bar);
    box.addEventListener('keydown', (e) => {
      const key = (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase();
      if (key === 'b' || key === 'i') e.preventDefault(), tools[key === 'b' ? 0 : 1][2](box);
    });
  };
  // Drafts kept on the server as they are typed (POST /drafts.json, Discourse's shape), so a
  // reload, a crash or another device loses nothing; the post that sends one deletes it on the
  // server. A save names the draft's sequence: one changed elsewhere since is not overwritten.
  // "draft:<key>" in localStorage tells the topic page (dock.js) to load this at once.
  const drafts = (out, box, title, recheck) => {
    const form = box.form, key = out.dataset.draftKey, hint = `draft:${key}`;
    const status = make('p', '', 'hint draft-status');
    status.setAttribute('role', 'status'); // polite; said once, not at every save
    (form.querySelector('[type=submit]') || box).before(status);
    const tell = (text) => { if (status.textContent !== text) status.textContent = text; };
    const remember = (on) => {
      try { on ? localStorage.setItem(hint, '1') : localStorage.removeItem(hint); } catch (e) { /* storage off */ }
    };
    const typed = () => {
      const to = form.elements.reply_to_post_number, data = {raw: box.value};
      if (title) data.title = title.value;
      if (to && to.value) data.reply_to_post_number = +to.value;
      return JSON.stringify(data);
    };
    const ask = () => fetch(out.dataset.draftUrl, {headers: {Accept: 'application/json'}}).then((r) => r.ok && r.json());
    let sequence = 0, saved, timer, busy, stuck, sent, ready;
    const save = async (leaving) => {
      clearTimeout(timer);
      const data = typed();
      if (!ready || busy) return void (timer = setTimeout(save, 500)); // one save at a time
      if (sent || stuck || data === saved) return;
      busy = true;
      try {
        const r = await fetch(out.dataset.draftsUrl, {method: 'POST', keepalive: leaving === true, headers: {Accept: 'application/json'},
          body: new URLSearchParams({draft_key: key, data, sequence, csrf_token: token.content})});
        const j = await r.json();
        if (r.ok) {
          [sequence, saved] = [j.draft_sequence, data];
          remember(sequence);
          tell(sequence ? 'Draft saved' : '');
        } else if (r.status === 409) { // another window or device saved (or posted) it since
          stuck = true;
          status.textContent = 'This draft was changed in another window or device, so this version is not saved. ';
          const keep = status.appendChild(make('button', 'Save this version instead', 'link'));
          keep.type = 'button';
          keep.onclick = () => ask().then((now) => {
            if (!now) return;
            [sequence, stuck, saved] = [now.draft_sequence, false, null];
            status.textContent = '';
            box.focus();
            save();
          }, () => {});
        } else if (r.status === 429) {
          timer = setTimeout(save, 1000 * ((j.extras || {}).wait_seconds || 10));
        } else {
          tell(`Draft not saved: ${(j.errors || [''])[0]}`);
        }
      } catch (e) {
        tell('Draft not saved: the forum cannot be reached just now.'); // tried again at the next pause
      } finally {
        busy = false;
      }
    };
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(save, 1500);
    };
    box.addEventListener('input', later);
    if (title) title.addEventListener('input', later);
    // Typed before this script arrived (it loads when the box is first used): saved too.
    if (box.value !== box.defaultValue || (title && title.value !== title.defaultValue)) later();
    form.addEventListener('submit', () => {
      sent = true; // the server deletes the draft with the post it became
      clearTimeout(timer);
      remember(false);
    });
    addEventListener('pagehide', () => save(true));
    document.addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && save(true));
    // Put back: into an empty box; before a quote the page started with; never over the text
    // of a post the server sent back with its errors.
    ask().then((j) => {
      if (!j) return;
      const draft = j.draft && JSON.parse(j.draft), had = box.value.trim();
      sequence = j.draft_sequence;
      remember(draft);
      if (draft && !document.querySelector('.errors')) {
        const raw = draft.raw || '';
        if (!had) box.value = raw;
        else if (!raw.includes(had)) box.value = `${raw.replace(/\s+$/, '')}\n\n${box.value}`;
        if (title && draft.title && !title.value.trim()) title.value = draft.title;
        const to = draft.reply_to_post_number;
        if (to && !form.elements.reply_to_post_number) form.append(Object.assign(make('input'), {type: 'hidden', name: 'reply_to_post_number', value: to}));
        tell('Draft restored');
        box.dispatchEvent(new Event('change', {bubbles: true}));
        recheck();
        if (box.value !== raw) later(); // joined with the quote: keep that
      }
      if (saved === undefined && !timer && !document.querySelector('.errors')) saved = typed(); // else kept as shown
    }).catch(() => {}).finally(() => { ready = true; });
  };
  document.querySelectorAll('[data-privacy-check]').forEach((out, k) => {
    const box = document.getElementById(out.dataset.for), title = document.getElementById(out.dataset.title || '');
    if (!box) return;
    const where = out.dataset.topic ? `&topic_id=${out.dataset.topic}` : out.dataset.group ? `&group_id=${out.dataset.group}` : '';
    if (out.dataset.mentions) mentions(box, out.dataset.mentions, where, k);
    let details, cooked;
    if (out.dataset.preview !== 'off') {
      details = make('details');
      cooked = make('div', '', 'cooked');
      details.append(make('summary', 'Preview'), make('h2', 'Preview of your post', 'visually-hidden'), cooked);
      details.hidden = true;
      out.after(details);
    }
    let sent = {}, found = [], said, timer, asked = 0;
    const show = (data) => {
      found = [...(data.title_warnings || []).map((w) => ({...w, el: title, text: sent.title})),
        ...(data.warnings || []).map((w) => ({...w, el: box, text: sent.raw}))];
      const first = (data.errors || []).concat(data.notes || []); // notes: mentions nobody will get
      const lines = first.concat(found.map((w) => (w.el === title ? 'Title: '
        : `Line ${w.text.slice(0, units(w.text, w.start)).split('\n').length}: `) + w.message.replace(/^T/, 't')));
      if (lines.join() !== said) { // the same warnings are not announced twice
        said = lines.join();
        const ul = make('ul');
        lines.forEach((line, i) => {
          const li = ul.appendChild(make('li')), note = li.appendChild(make('span', `${line} `));
          const w = found[i - first.length];
          if (!w) return;
          const button = li.appendChild(make('button', 'Show me', 'secondary'));
          note.id = `privacy-warning-${k + 1}-${i + 1}`;
          button.type = 'button';
          button.setAttribute('aria-describedby', note.id);
          button.onclick = async () => {
            if (box.value !== sent.raw || (title && title.value !== sent.title)) await check(); // typed since
            const now = found[i - first.length] || w;
            now.el.focus();
            now.el.setSelectionRange(units(now.text, now.start), units(now.text, now.end));
          };
        });
        out.textContent = '';
        if (lines.length) out.append(ul);
      }
      if (cooked) {
        cooked.innerHTML = data.cooked || ''; // sanitised by the server like every post
        details.hidden = !data.cooked;
      }
    };
    const check = async () => {
      clearTimeout(timer);
      const body = {raw: box.value}, n = ++asked;
      if (out.dataset.topic) body.topic_id = out.dataset.topic; // where it will be read: for mentions
      if (out.dataset.group) body.group_id = out.dataset.group;
      if (title) body.title = title.value;
      if (!body.raw.trim() && !(body.title || '').trim()) { sent = body; return show({}); }
      try {
        const r = await fetch(out.dataset.previewUrl, {method: 'POST', body: JSON.stringify(body),
          headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token.content}});
        const data = (r.ok || r.status === 400) && await r.json();
        if (data && n === asked) { sent = body; show(data); }
      } catch (e) { /* offline: posting still works */ }
    };
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(check, 400);
    };
    box.addEventListener('input', later);
    if (title) title.addEventListener('input', later);
    if (out.hasAttribute('data-toolbar')) toolbar(box);
    box.addEventListener('keydown', (e) => { // Ctrl+Enter (Cmd+Enter on a Mac) posts, where one button does
      const send = box.form && box.form.querySelectorAll('button[type=submit]');
      if (e.key !== 'Enter' || !(e.ctrlKey || e.metaKey) || e.defaultPrevented || !send || send.length !== 1) return;
      e.preventDefault();
      box.form.requestSubmit(send[0]);
    });
    if (out.dataset.draftKey) drafts(out, box, title, check);
    // Re-shown with the server's identifiable-data warnings ("Post anyway" offered): that list
    // stands until the text changes (checking again now would say each warning twice). Any
    // other error: check now, as the server may not have looked at the text.
    if ((box.value.trim() || (title && title.value.trim())) && !document.getElementById('post_anyway')) check();
  });
})();
