/* Composer preview (POST /preview): warns of text that could identify a patient, as the author
   types, and shows the post as it will look. Posting never depends on it. */
(() => {
  const box = document.getElementById('raw'), out = document.getElementById('privacy-check');
  const token = document.querySelector('meta[name="csrf-token"]');
  if (!box || !out || !token) return;
  const make = (tag, text, cls) => Object.assign(document.createElement(tag), {textContent: text || '', className: cls || ''});
  const details = make('details'), cooked = make('div', '', 'cooked');
  details.append(make('summary', 'Preview'), make('h2', 'Preview of your post', 'visually-hidden'), cooked);
  details.hidden = true;
  out.after(details);

  let raw = '', found = [], said, timer, asked = 0;
  // Offsets count code points, the textarea UTF-16 units.
  const units = (n) => {
    let i = 0;
    for (const c of raw) { if (n-- <= 0) break; i += c.length; }
    return i;
  };
  const show = (text, data) => {
    raw = text;
    found = data.warnings;
    const lines = found.map((w) => `Line ${raw.slice(0, units(w.start)).split('\n').length}: ${w.message.replace(/^T/, 't')}`);
    if (lines.join() !== said) { // the same warnings are not announced twice
      said = lines.join();
      const ul = make('ul');
      lines.forEach((line, i) => {
        const li = ul.appendChild(make('li')), note = li.appendChild(make('span', `${line} `));
        const button = li.appendChild(make('button', 'Show me', 'secondary'));
        note.id = `privacy-warning-${i + 1}`;
        button.type = 'button';
        button.setAttribute('aria-describedby', note.id);
        button.onclick = async () => {
          if (box.value !== raw) await check(); // typed since: find it again
          box.focus();
          if (found[i]) box.setSelectionRange(units(found[i].start), units(found[i].end));
        };
      });
      out.textContent = '';
      if (lines.length) out.append(ul);
    }
    cooked.innerHTML = data.cooked; // sanitised by the server like every post
    details.hidden = !data.cooked;
  };
  const check = async () => {
    clearTimeout(timer);
    const text = box.value, n = ++asked;
    if (!text.trim()) return show(text, {cooked: '', warnings: []});
    try {
      const r = await fetch(out.dataset.previewUrl, {method: 'POST', body: JSON.stringify({raw: text}),
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token.content}});
      const data = r.ok && await r.json();
      if (data && n === asked) show(text, data);
    } catch (e) { /* offline: posting still works */ }
  };
  box.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(check, 400);
  });
  if (box.value.trim()) check();
})();
