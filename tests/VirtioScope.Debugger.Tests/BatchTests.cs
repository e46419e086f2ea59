using System.Text.Json;
using VirtioScope.Debugger;

namespace VirtioScope.Debugger.Tests;

public class BatchTests
{
    private static (int Failed, string Output) Batch(string script, bool json)
    {
        using DebugSession s = Sessions.Open();
        var output = new StringWriter();
        int failed = BatchRunner.Run(new CommandInterpreter(s), new StringReader(script), output, json);
        return (failed, output.ToString());
    }

    [Fact]
    public void Json_mode_prints_one_object_per_command()
    {
        (int failed, string output) = Batch("step 3\n# comment\n\nregs\nqueue 0\nbogus\nnext\nchain\nrequest\nevents 5 mmio\nbackend\ninfo\nbreak status\nbreaks\n", json: true);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(12, lines.Length);
        Assert.Equal(1, failed);
        JsonElement[] docs = lines.Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();
        Assert.Equal("step 3", docs[0].GetProperty("command").GetString());
        Assert.Equal(3, docs[0].GetProperty("position").GetInt64());
        Assert.Equal(3, docs[0].GetProperty("data").GetProperty("to").GetInt64());
        Assert.Contains(docs[1].GetProperty("data").GetProperty("registers").EnumerateArray(), r => r.GetProperty("name").GetString() == "Status");
        Assert.Equal("not live", docs[2].GetProperty("data").GetProperty("format").GetString());
        Assert.False(docs[3].GetProperty("ok").GetBoolean());
        Assert.Contains("unknown command 'bogus'", docs[3].GetProperty("error").GetString());
        Assert.True(docs[4].GetProperty("ok").GetBoolean());
        Assert.Equal("in", docs[5].GetProperty("data").GetProperty("type").GetString());
        Assert.Equal(5, docs[7].GetProperty("data").GetArrayLength());
        Assert.Equal("memory", docs[8].GetProperty("data").GetProperty("format").GetString());
        Assert.Equal(1, docs[11].GetProperty("data").GetArrayLength());
        Assert.Equal("status", docs[10].GetProperty("data").GetProperty("spec").GetString());
    }

    [Fact]
    public void Every_commands_data_has_a_json_contract()
    {
        // Data is serialized through compile-time contracts (the tool is native AOT): a command whose data type has
        // none fails here with NotSupportedException instead of in a user's batch.
        (int failed, string output) = Batch("next 2\ncompose write 64 8 0x5a\nback 3\nback request\nbreak type out\ndelete all\nhelp\ncontinue\n", json: true);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(8, lines.Length);
        Assert.Equal(0, failed);
        JsonElement[] docs = lines.Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();
        Assert.Equal(64UL, docs[1].GetProperty("data").GetProperty("sector").GetUInt64());
        Assert.Equal(0, docs[5].GetProperty("data").GetArrayLength());
        Assert.True(docs[6].GetProperty("data").GetArrayLength() > 10);
        Assert.All(docs, d => Assert.NotEqual(JsonValueKind.Undefined, d.GetProperty("data").ValueKind));
    }

    [Fact]
    public void Text_mode_echoes_each_command_and_its_result()
    {
        (int failed, string output) = Batch("step\nregs\nbreak sector 9-1\nquit\nstep\n", json: false);
        Assert.Equal(1, failed);
        Assert.Contains("(step)\nat access 1 (from 0): step done; status 0 (reset)\n", output);
        Assert.Contains("read  MagicValue (0x000) -> 0x74726976", output);
        Assert.Contains("0x070 Status", output);
        Assert.Contains("error: sector range 9-1 ends before it starts", output);
        Assert.EndsWith("(quit)\nbye\n", output);
    }
}
