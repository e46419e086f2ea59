using System.Text.Json;
using VirtioScope.Block;

namespace VirtioScope.VhostDebug.Tests;

/// <summary>The batch command language on a live device: one JSON object per command, or text.</summary>
public sealed class BatchTests
{
    private static List<JsonElement> RunJson(DebugRig rig, string script, out int failed)
    {
        var interpreter = new VhostCommandInterpreter(rig.Controller, rig.Server.SocketPath, "memory");
        var output = new StringWriter();
        failed = VhostBatchRunner.Run(interpreter, new StringReader(script), output, json: true);
        return [.. output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)];
    }

    [Fact]
    public void BatchPrintsOneJsonObjectPerCommand()
    {
        using var rig = new DebugRig();
        rig.Submit((BlkRequestType.Out, 8), (BlkRequestType.In, 100), (BlkRequestType.Out, 20));
        rig.WaitHeld(0);
        string script = """
            # comments and blank lines are skipped

            wait-connect 20
            vhost
            queue 0
            step 20
            request
            break sector=100-107
            continue 20
            queue 0
            delete 1
            events 50 completion
            frobnicate
            break mmio 0x70
            """;
        List<JsonElement> results = RunJson(rig, script, out int failed);
        Assert.Equal(12, results.Count);
        Assert.Equal(2, failed);

        JsonElement vhost = results[1].GetProperty("data");
        Assert.True(vhost.GetProperty("negotiated").GetBoolean());
        Assert.Contains("VERSION_1", vhost.GetProperty("featureNames").GetString(), StringComparison.Ordinal);
        Assert.Contains("REPLY_ACK", vhost.GetProperty("protocolFeatureNames").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, vhost.GetProperty("regions").GetArrayLength());
        JsonElement ring0 = vhost.GetProperty("rings")[0];
        Assert.Equal(16, ring0.GetProperty("size").GetInt32());
        Assert.True(ring0.GetProperty("started").GetBoolean());
        Assert.Equal(VhostUser.Tests.MemfdGuest.User(rig.Ring.Layout.DescTable), ring0.GetProperty("desc").GetUInt64());

        JsonElement queue = results[2].GetProperty("data");
        Assert.Equal(3, queue.GetProperty("availIdx").GetInt32());
        Assert.Equal(0, queue.GetProperty("lastAvail").GetInt32());
        Assert.Equal(3, queue.GetProperty("waiting").GetInt32());
        Assert.Equal("paused", results[2].GetProperty("state").GetString());

        JsonElement stepped = results[3].GetProperty("data").GetProperty("request");
        Assert.Equal("out", stepped.GetProperty("type").GetString());
        Assert.Equal(8UL, stepped.GetProperty("sector").GetUInt64());
        Assert.Equal(1L, results[3].GetProperty("position").GetInt64());
        Assert.Equal(3, results[4].GetProperty("data").GetProperty("descriptors").GetArrayLength());

        Assert.Equal("sector 100-107", results[5].GetProperty("data").GetProperty("spec").GetString());
        JsonElement hit = results[6].GetProperty("data");
        Assert.Equal(1, hit.GetProperty("breakpoint").GetInt32());
        Assert.Equal(100UL, hit.GetProperty("request").GetProperty("sector").GetUInt64());
        JsonElement after = results[7].GetProperty("data");
        Assert.Equal(2, after.GetProperty("lastAvail").GetInt32());
        Assert.Equal(2, after.GetProperty("usedIdx").GetInt32());
        Assert.Equal(1, after.GetProperty("waiting").GetInt32());

        Assert.Equal(0, results[8].GetProperty("data").GetArrayLength());
        Assert.Equal(2, results[9].GetProperty("data").GetArrayLength());
        Assert.False(results[10].GetProperty("ok").GetBoolean());
        Assert.Contains("unknown command 'frobnicate'", results[10].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.False(results[11].GetProperty("ok").GetBoolean());
        Assert.Equal(0xff, rig.Status(2));
    }

    [Fact]
    public void EveryCommandsDataHasAJsonContract()
    {
        // Result data is serialized through compile-time contracts (the tool is native AOT): a command whose data
        // type has none fails here with NotSupportedException instead of in a user's batch.
        using var rig = new DebugRig();
        rig.Submit((BlkRequestType.Out, 8), (BlkRequestType.In, 100));
        rig.WaitHeld(0);
        string script = "wait-connect 20\nstep 20\nrequests 5\nrequest\nevents 5\ninfo\nhelp\nbreak type=write\nbreakpoints\nbreak\npause\nvhost\nqueue 0\n";
        List<JsonElement> results = RunJson(rig, script, out int failed);
        Assert.Equal(0, failed);
        Assert.Equal(13, results.Count);
        Assert.All(results, r => Assert.NotEqual(JsonValueKind.Null, r.GetProperty("data").ValueKind));
        Assert.Equal(1, results[2].GetProperty("data").GetArrayLength());
        Assert.Equal("paused", results[5].GetProperty("data").GetProperty("state").GetString());
        Assert.True(results[6].GetProperty("data").GetArrayLength() > 10);
        Assert.Equal(1, results[8].GetProperty("data").GetArrayLength());
    }

    [Fact]
    public void BatchTextShowsTheSteppedRequestAndTheRing()
    {
        using var rig = new DebugRig();
        rig.Submit((BlkRequestType.Out, 33));
        rig.WaitHeld(0);
        var interpreter = new VhostCommandInterpreter(rig.Controller, rig.Server.SocketPath, "memory");
        var output = new StringWriter();
        int failed = VhostBatchRunner.Run(interpreter, new StringReader("step 20\nqueue 0\ninfo\nquit\nqueue 0\n"), output, json: false);
        string text = output.ToString();
        Assert.Equal(0, failed);
        Assert.Contains("(step 20)\npaused: stepped one request (queue 0 chain 0); 1 requests completed\nqueue 0 chain 0: out sector 33 bytes 512 segments 1, status OK, used length 1", text, StringComparison.Ordinal);
        Assert.Contains("avail idx 1 last avail 1 used idx 1 next used 1", text, StringComparison.Ordinal);
        Assert.Contains("state:       paused (stepped one request (queue 0 chain 0)), 1 requests taken, 1 completed, 1 ring(s) started", text, StringComparison.Ordinal);
        // quit ends the batch: the queue command after it never runs.
        Assert.EndsWith("(quit)\nbye\n", text, StringComparison.Ordinal);
        Assert.Equal(2, text.Split("(queue 0)").Length);
    }
}
