namespace VirtioScope.Tracing.Analysis;

/// <summary>The spec rules <see cref="TraceLinter"/> checks, by id.</summary>
public static class LintRules
{
    /// <summary>A status bit was set before the bits that must precede it, or bits were cleared without a reset (3.1.1).</summary>
    public const string StatusOrder = "status-order";

    /// <summary>DriverFeatures or DriverFeaturesSel written after FEATURES_OK (legacy: after DRIVER_OK) (3.1.1).</summary>
    public const string FeaturesAfterFeaturesOk = "features-after-features-ok";

    /// <summary>Queue set-up registers written after DRIVER_OK without a queue reset (3.1.1, 4.2.3.2).</summary>
    public const string QueueSetupAfterDriverOk = "queue-setup-after-driver-ok";

    /// <summary>QueueNum above QueueNumMax (4.2.2.2).</summary>
    public const string QueueNumAboveMax = "queue-num-above-max";

    /// <summary>QueueNum not a power of two on a split ring (2.7).</summary>
    public const string QueueNumNotPowerOfTwo = "queue-num-not-power-of-two";

    /// <summary>QueueNotify written before DRIVER_OK (3.1.1).</summary>
    public const string NotifyBeforeDriverOk = "notify-before-driver-ok";

    /// <summary>A write-only register was read (4.2.2).</summary>
    public const string ReadOfWriteOnly = "read-of-write-only";

    /// <summary>A configuration field wider than 32 bits read without ConfigGeneration before and after (4.2.2.2, 2.5.1).</summary>
    public const string ConfigGeneration = "config-generation";
}

/// <summary>One rule broken by the driver at one event.</summary>
public sealed record LintViolation(long EventNumber, string Rule, string Message)
{
    /// <summary>"#N rule: message".</summary>
    public override string ToString() => $"#{EventNumber} {Rule}: {Message}";
}
