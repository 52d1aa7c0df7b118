// ESLint for the addon's JavaScript (Odoo's ES modules), as OCA repositories
// run it from pre-commit; tools/lint.sh runs it with the packages it installs.
// The browser's globals the addon's code uses, named here: the config imports
// no package, so that it loads from this folder whatever installed ESLint.
const BROWSER = [
    "window", "document", "console", "navigator", "location", "fetch", "URL",
    "setTimeout", "clearTimeout", "setInterval", "clearInterval", "requestAnimationFrame",
    "getComputedStyle", "Audio", "Event", "MouseEvent", "KeyboardEvent", "HTMLElement",
    "Node", "localStorage", "sessionStorage", "Intl", "Blob",
];

export default [
    {
        files: ["static/**/*.js"],
        languageOptions: {
            ecmaVersion: 2024,
            sourceType: "module",
            globals: Object.fromEntries(
                [...BROWSER, "odoo", "luxon"].map((name) => [name, "readonly"])
            ),
        },
        rules: {
            "no-undef": "error",
            "no-unused-vars": ["error", { args: "none" }],
            "no-unreachable": "error",
            "no-dupe-keys": "error",
            "no-redeclare": "error",
            eqeqeq: ["error", "smart"],
            "prefer-const": "error",
            "no-var": "error",
        },
    },
];
