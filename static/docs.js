// The API's interactive documentation (/docs): the vendored Swagger UI over the app's
// OpenAPI description. A plain script, not a module: the bundle defines SwaggerUIBundle as a
// global, and both run deferred, in order.
window.SwaggerUIBundle({
  // Beside /docs, also when the app is served under a path prefix.
  url: new URL("openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  deepLinking: true,
  // Swagger UI would otherwise show a badge from a public validator: no request leaves the app.
  validatorUrl: null,
});
