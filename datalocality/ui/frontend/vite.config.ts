import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// One IIFE file that uses the host's React, jsx-runtime, ReactDOM and Chakra UI globals.
export default defineConfig({
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: fileURLToPath(new URL("../static", import.meta.url)),
    emptyOutDir: false,
    copyPublicDir: false,
    sourcemap: false,
    target: "es2020",
    lib: {
      entry: fileURLToPath(new URL("src/main.tsx", import.meta.url)),
      formats: ["iife"],
      name: "DataLocalityPlugin",
      fileName: () => "datalocality.js",
    },
    rollupOptions: {
      external: ["react", "react/jsx-runtime", "react-dom", "@chakra-ui/react"],
      output: {
        globals: {
          react: "React",
          "react/jsx-runtime": "ReactJSXRuntime",
          "react-dom": "ReactDOM",
          "@chakra-ui/react": "ChakraUI",
        },
      },
    },
  },
});
