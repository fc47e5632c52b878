/* Writing help for every box where a member writes (POST /preview): warns of text that could
   identify a patient as they type, and shows the post as it will look. Each
   [data-privacy-check] names its textarea (data-for) and, for new topics, the title
   (data-title). Posting never depends on it: the server checks again. */
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
  document.querySelectorAll('[data-privacy-check]').forEach((out, k) => {
    const box = document.getElementById(out.dataset.for), title = document.getElementById(out.dataset.title || '');
    if (!box) return;
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
    if (box.value.trim() || (title && title.value.trim())) check();
  });
})();
