-- Drives `llemma-prove lsp` from a real Neovim (0.7 API, so Debian stable's neovim works): open the
-- file, attach the server, run "Prove with LLEMMA" on the `sorry` after LLEMMA_MARKER, write the
-- buffer, and record what happened in LLEMMA_OUT (JSON). Used by tests/editor/test_neovim.py.
local out = vim.env.LLEMMA_OUT
local function finish(data)
  local handle = io.open(out, "w")
  handle:write(vim.fn.json_encode(data))
  handle:close()
end

local ok, err = pcall(function()
  -- The setup docs/editor.md gives for Neovim 0.7 to 0.10, with the test's command and options.
  vim.cmd([[autocmd BufRead,BufNewFile *.lean setfiletype lean]])
  local client_id = nil
  vim.api.nvim_create_autocmd("FileType", {
    pattern = { "lean", "isabelle" },
    callback = function(args)
      if client_id == nil or vim.lsp.get_client_by_id(client_id) == nil then
        client_id = vim.lsp.start_client({
          name = "llemma",
          cmd = { vim.env.LLEMMA_PYTHON, "-m", "llemma_prove.cli", "lsp" },
          cmd_cwd = vim.env.LLEMMA_ROOT,
          root_dir = vim.fn.getcwd(),
          init_options = vim.fn.json_decode(vim.env.LLEMMA_INIT),
        })
      end
      vim.lsp.buf_attach_client(args.buf, client_id)
    end,
  })
  vim.cmd("edit " .. vim.fn.fnameescape(vim.env.LLEMMA_FILE))
  local buf = vim.api.nvim_get_current_buf()
  assert(client_id ~= nil, "the FileType autocommand did not start the server")
  local client = vim.lsp.get_client_by_id(client_id)
  assert(vim.wait(30000, function() return client.server_capabilities ~= nil end, 20), "server did not initialize")

  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local row, col
  for i, line in ipairs(lines) do
    local at = line:find(vim.env.LLEMMA_MARKER, 1, true)
    if at then
      row = i - 1
      col = line:find("sorry", at, true) - 1
      break
    end
  end
  -- Hints for sorrys the server cannot search (Neovim 0.7 hides disabled code actions).
  vim.wait(10000, function() return #vim.diagnostic.get(buf) > 0 end, 20)
  local hints = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do table.insert(hints, d.message) end

  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    range = { start = { line = row, character = col }, ["end"] = { line = row, character = col + 5 } },
    context = { diagnostics = {} },
  }
  local answers = vim.lsp.buf_request_sync(buf, "textDocument/codeAction", params, 20000)
  local titles, prove = {}, nil
  for _, answer in pairs(answers or {}) do
    for _, action in ipairs(answer.result or {}) do
      table.insert(titles, action.title)
      if action.title == "Prove with LLEMMA" then prove = action end
    end
  end
  assert(prove, "no Prove with LLEMMA action")
  local command = prove.command
  local reply = client.request_sync("workspace/executeCommand",
    { command = command.command, arguments = command.arguments }, 60000, buf)
  assert(reply and reply.result, "executeCommand failed: " .. vim.inspect(reply))
  vim.cmd("write")
  vim.lsp.stop_client(client_id)
  vim.wait(10000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 20)
  finish({ titles = titles, result = reply.result, hints = hints, version = tostring(vim.version().minor) })
end)
if not ok then
  finish({ error = tostring(err) })
end
vim.cmd("qa!")
