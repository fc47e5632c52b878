/* A topic's reply box, docked at the foot of the window while its member writes, so they can
   keep reading (forum.css: "The docked reply box"). Without JavaScript it stays after the
   posts and works the same.

   "rest": in its place after the posts (while that place is out of view, its heading waits at
   the foot of the window as the Reply bar); "open": docked, the form shown; "min": docked,
   the bar only, the text kept. Writing and scrolling away docks it; Escape or the bar
   minimises it. The writing help (composer.js: toolbar, preview, identifiable-data warnings,
   drafts, Ctrl+Enter) loads when the box is first used, or at once when this browser left a
   draft here ("draft:<key>" in localStorage, kept by composer.js). */
(() => {
  const dock = document.querySelector('[data-dock]');
  if (!dock) return;
  const make = (tag, props) => Object.assign(document.createElement(tag), props);
  const form = dock.querySelector('form'), box = form.querySelector('textarea'), heading = dock.querySelector('h2');
  const bar = make('button', {type: 'button', className: 'dock-bar', textContent: 'Reply'}), spot = make('div');
  let state = 'rest', near = true, back = null, help = null;

  const load = () => help || (help = document.head.appendChild(make('script', {src: dock.dataset.dock})));
  const fit = () => { // the page ends above the dock, so it never hides the last words of a post
    const height = state !== 'rest' ? dock.offsetHeight : near ? 0 : bar.offsetHeight;
    document.body.style.setProperty('--dock-h', `${height}px`);
  };
  const show = (next) => {
    const away = next === 'rest' && !near;
    if (next === state && away === dock.classList.contains('away')) return; // as it is
    state = next;
    dock.classList.toggle('docked', state !== 'rest');
    dock.classList.toggle('away', away);
    form.hidden = state === 'min';
    bar.setAttribute('aria-expanded', String(state === 'open'));
    bar.textContent = state === 'min' ? 'Reply (draft)' : 'Reply';
    fit();
  };
  const open = (from) => {
    back = from || null;
    load();
    show('open');
    box.focus();
  };
  const minimise = (fromBar) => { // Escape: focus goes back where the box was opened from
    show(box.value.trim() ? 'min' : 'rest');
    (!fromBar && back && back.isConnected ? back : bar).focus();
    back = null;
  };
  const settle = () => { // text written, then its place scrolled out of view: it docks
    if (state === 'rest' && !near && box.value.trim()) show(dock.contains(document.activeElement) ? 'open' : 'min');
    else show(state === 'min' && !box.value.trim() ? 'rest' : state);
  };

  heading.replaceChildren(bar);
  bar.setAttribute('aria-controls', form.id);
  bar.onclick = () => (state === 'open' ? minimise(true) : open());
  dock.before(spot);
  new IntersectionObserver((seen) => {
    const e = seen[seen.length - 1];
    near = e.isIntersecting || e.boundingClientRect.top < 0; // in view, or scrolled past
    settle();
  }).observe(spot);
  new ResizeObserver(fit).observe(dock);
  form.addEventListener('focusin', load);
  box.addEventListener('input', settle);
  box.addEventListener('change', settle); // a draft put back by composer.js
  dock.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state === 'open' && !e.defaultPrevented) e.preventDefault(), minimise();
  });

  // "Quote and reply" and "Say welcome" lead to the reply page; here they fill the docked box
  // with the quote that page would start with (/t/{id}/reply.json), and the reader stays put.
  const page = `${form.getAttribute('action')}?to=`;
  document.addEventListener('click', async (e) => {
    const link = e.target.closest && e.target.closest('a[href]');
    if (!link || !link.getAttribute('href').startsWith(page) || e.defaultPrevented || e.button || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    open(link);
    try {
      const to = link.getAttribute('href').slice(page.length);
      const r = await fetch(`${dock.dataset.quotes}?to=${encodeURIComponent(to)}`, {headers: {Accept: 'application/json'}});
      if (!r.ok) throw new Error(r.status);
      const quote = await r.json(), kept = box.value.replace(/\s+$/, '');
      box.value = `${kept && `${kept}\n\n`}${quote.raw}`;
      const field = form.elements.reply_to_post_number || form.appendChild(make('input', {type: 'hidden', name: 'reply_to_post_number'}));
      field.value = quote.reply_to_post_number;
      box.focus();
      box.selectionStart = box.selectionEnd = box.value.length;
      box.scrollTop = box.scrollHeight;
      box.dispatchEvent(new Event('input', {bubbles: true}));
    } catch (err) {
      location.href = link.href; // the reply page quotes it, or says why it cannot
    }
  });

  bar.setAttribute('aria-expanded', 'false');
  try {
    if (localStorage.getItem(`draft:${dock.querySelector('[data-draft-key]').dataset.draftKey}`)) load();
  } catch (err) { /* no storage: the draft comes back when the box is first used */ }
})();
