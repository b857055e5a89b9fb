// Swagger UI over this server's OpenAPI document (callscope.api.openapi). No online
// validator badge (validatorUrl: null): nothing is fetched from anywhere but this server.
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "/restapi/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
