// Starts GraphiQL on the page at `/`. A file of its own (no inline script), so the
// page's Content-Security-Policy can be `script-src 'self'`.
//
// Every request needs a bearer token: paste it in the Headers tab as
// {"Authorization": "Bearer <token>"} (a fresh server prints an admin token).
// The headers are not persisted (shouldPersistHeaders: false): the token lives in
// this tab only, never in localStorage.
'use strict';
(function () {
  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + '/graphql' });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
      defaultQuery:
        '# Paste your bearer token in the Headers tab below:\n' +
        '#   {"Authorization": "Bearer <token>"}\n' +
        '# then press "Re-fetch GraphQL schema" (the circular arrow, bottom left)\n' +
        '# for completion and the docs,\n' +
        '# and run a query (Ctrl-Enter):\n' +
        '{ catalogue { version } }\n',
      headers: JSON.stringify({ Authorization: 'Bearer <paste the token here>' }, null, 2),
    })
  );
})();
